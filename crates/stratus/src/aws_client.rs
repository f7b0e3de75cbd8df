//! A small client of Stratus's AWS-compatible APIs for the CLI: requests
//! signed with SigV4 using the admin access key.
//!
//! OWNER: the authentication work package.
