//! Where an event came from: the CloudEvents headers a function receives,
//! the envelope of a bus event, the FIFO group of a queued delivery.

/// What an event is, for the CloudEvents headers a function receives and
/// the envelope of a bus event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventOrigin {
    /// `ce-type` (and a bus event's `detail-type`).
    pub kind: String,
    /// `ce-source` (and a bus event's `source`).
    pub source: String,
    /// `ce-id`: the event's id, if it has one of its own.
    pub id: Option<String>,
}

impl EventOrigin {
    /// The message group and deduplication id a FIFO queue or topic named
    /// `name` needs (None for standard ones): events of one origin share a
    /// group, so they keep their order.
    pub fn fifo_ids(&self, name: &str) -> (Option<String>, Option<String>) {
        if !name.ends_with(".fifo") {
            return (None, None);
        }
        let dedup = self
            .id
            .clone()
            .unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
        (Some(self.source.clone()), Some(dedup))
    }

    /// The CloudEvents headers for a function.
    pub fn headers(&self) -> Vec<(String, String)> {
        let mut headers = vec![
            ("ce-type".to_string(), self.kind.clone()),
            ("ce-source".to_string(), self.source.clone()),
        ];
        if let Some(id) = &self.id {
            headers.push(("ce-id".to_string(), id.clone()));
        }
        headers
    }
}
