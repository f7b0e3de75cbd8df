//! Integration tests of the sandbox. Most need root: they check
//! `Host::enforced()` (asserting everything is enforced when root) and skip
//! with a note otherwise.

mod basics;
mod control;
mod direct;
mod fs;
mod limits;
mod net;
mod template;
mod util;
