//! Presigned URLs: the signature in the query (`X-Amz-Signature`).

use chrono::{DateTime, Utc};
use http::HeaderMap;

use super::{
    ALGORITHM, AMZ_DATE_FORMAT, Signer, UNSIGNED_PAYLOAD, build_canonical_request, canonical_query,
    canonical_uri_for, hmac, host_of, signing_key, string_to_sign, uri_encode,
};

impl Signer {
    /// Presigns a request to `uri` valid for `expires_in` seconds from
    /// `now`, and returns the query to send it with: `uri`'s own query,
    /// then `X-Amz-Algorithm`, `X-Amz-Credential`, `X-Amz-Date`,
    /// `X-Amz-Expires`, `X-Amz-Security-Token` (with a session token),
    /// `X-Amz-SignedHeaders` and `X-Amz-Signature`.
    ///
    /// `host` (from `uri`'s authority, or in `headers`) and every header in
    /// `headers` but `user-agent`, `expect` and `x-amzn-trace-id` are
    /// signed; the client must send them as given. `payload_hash` is what
    /// the canonical request's last line says: `None` for
    /// `UNSIGNED-PAYLOAD` (S3's rule); botocore presigns other services with
    /// the body's hash (that of nothing for a `GET`).
    ///
    /// `expires_in` is not bounded here; a verifier refuses more than
    /// [`super::MAX_PRESIGN_EXPIRES`].
    pub fn presign(
        &self,
        method: &str,
        uri: &http::Uri,
        headers: &HeaderMap,
        expires_in: u64,
        payload_hash: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<String, http::header::InvalidHeaderValue> {
        let amz_date = now.format(AMZ_DATE_FORMAT).to_string();
        let date = &amz_date[..8];
        let scope = format!("{date}/{}/{}/aws4_request", self.region, self.service);
        let mut headers = headers.clone();
        if let Some(host) = host_of(uri) {
            headers.insert(http::header::HOST, http::HeaderValue::from_str(host)?);
        }
        let mut signed: Vec<String> = headers
            .keys()
            .map(|k| k.as_str().to_string())
            .filter(|k| !matches!(k.as_str(), "user-agent" | "expect" | "x-amzn-trace-id"))
            .collect();
        signed.sort();
        signed.dedup();

        let mut query: Vec<String> = uri
            .query()
            .unwrap_or("")
            .split('&')
            .filter(|p| !p.is_empty())
            .map(str::to_string)
            .collect();
        let credential = format!("{}/{scope}", self.credentials.key_id);
        query.push(format!("X-Amz-Algorithm={ALGORITHM}"));
        query.push(format!(
            "X-Amz-Credential={}",
            uri_encode(credential.as_bytes(), false)
        ));
        query.push(format!("X-Amz-Date={amz_date}"));
        query.push(format!("X-Amz-Expires={expires_in}"));
        if let Some(token) = &self.credentials.session_token {
            query.push(format!(
                "X-Amz-Security-Token={}",
                uri_encode(token.as_bytes(), false)
            ));
        }
        query.push(format!(
            "X-Amz-SignedHeaders={}",
            uri_encode(signed.join(";").as_bytes(), false)
        ));
        let query = query.join("&");

        let canonical = build_canonical_request(
            method,
            &canonical_uri_for(&self.service, uri.path()),
            &canonical_query(&query),
            &headers,
            None,
            &signed,
            payload_hash.unwrap_or(UNSIGNED_PAYLOAD),
        );
        let to_sign = string_to_sign(&amz_date, &scope, &canonical);
        let key = signing_key(&self.credentials.secret, date, &self.region, &self.service);
        let signature = hex::encode(hmac(&key, to_sign.as_bytes()));
        Ok(format!("{query}&X-Amz-Signature={signature}"))
    }
}
