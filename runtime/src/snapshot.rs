//! The snapshot policy of an aggregate: when a snapshot is due, and when a stored one may be
//! used instead of replaying the stream.
//!
//! An aggregate takes snapshots when it has a [`SnapshotCodec`] (`snapshot_every = N` on
//! `#[aggregate]` gives it one). A snapshot is due when a commit carries the stream across a
//! multiple of `N`: a command that records several events cannot jump over one. A stored
//! snapshot is used only if it was written by the current shape of the state (its fingerprint
//! matches [`AggregateType::FINGERPRINT`]) and still decodes; otherwise the stream is replayed
//! from its first event, which always gives the right state, only slower.

use std::fmt;

use crate::aggregate::{AggregateType, SnapshotCodec};
use crate::store::Snapshot;

/// The snapshot policy of `A`; `None` from [`Policy::of`] when `A` takes no snapshots.
pub(crate) struct Policy<A> {
    codec: SnapshotCodec<A>,
    every: Option<u64>,
}

/// Why a stored snapshot is passed over (the stream is replayed instead).
#[derive(Debug)]
pub(crate) enum Unusable {
    /// Written by another shape of the state: a field was added, removed or retyped since.
    OtherShape { stored: u64, current: u64 },
    /// The fingerprint matches but the JSON does not decode as the state.
    Undecodable(serde_json::Error),
}

impl fmt::Display for Unusable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Unusable::OtherShape { stored, current } => write!(
                f,
                "it was written by another shape of the state (fingerprint {stored:#x}, the current one is {current:#x})"
            ),
            Unusable::Undecodable(error) => write!(f, "it does not decode as the state: {error}"),
        }
    }
}

impl<A: AggregateType> Policy<A> {
    /// The policy of `A`, if it takes snapshots.
    pub(crate) fn of() -> Option<Self> {
        A::SNAPSHOT.map(|codec| Policy { codec, every: A::SNAPSHOT_EVERY })
    }

    /// True when a commit that moved the stream from version `before` to `after` crossed a
    /// multiple of `snapshot_every` (never with no interval, or an interval of 0).
    pub(crate) fn due(&self, before: u64, after: u64) -> bool {
        match self.every {
            Some(every) if every > 0 => before / every != after / every,
            _ => false,
        }
    }

    /// The snapshot of `state` at `version`.
    pub(crate) fn take(&self, state: &A, version: u64) -> Result<Snapshot, serde_json::Error> {
        let state = (self.codec.encode)(state)?;
        Ok(Snapshot { version, fingerprint: A::FINGERPRINT, state })
    }

    /// The state a stored snapshot holds, if it may be used.
    pub(crate) fn restore(&self, snapshot: &Snapshot) -> Result<A, Unusable> {
        if snapshot.fingerprint != A::FINGERPRINT {
            return Err(Unusable::OtherShape { stored: snapshot.fingerprint, current: A::FINGERPRINT });
        }
        (self.codec.decode)(&snapshot.state).map_err(Unusable::Undecodable)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
    struct Every500 {
        balance: u64,
    }

    impl AggregateType for Every500 {
        const NAME: &'static str = "every-500";
        const SNAPSHOT_EVERY: Option<u64> = Some(500);
        const FINGERPRINT: u64 = 0xfeed;
        const SNAPSHOT: Option<SnapshotCodec<Self>> = Some(crate::__private::snapshot_codec::<Self>());
    }

    /// A snapshot codec but no interval: stored snapshots are read, none are written.
    #[derive(Debug, Default, serde::Serialize, serde::Deserialize)]
    struct ReadOnly;

    impl AggregateType for ReadOnly {
        const NAME: &'static str = "read-only";
        const SNAPSHOT: Option<SnapshotCodec<Self>> = Some(crate::__private::snapshot_codec::<Self>());
    }

    struct ZeroInterval;

    impl AggregateType for ZeroInterval {
        const NAME: &'static str = "zero";
        const SNAPSHOT_EVERY: Option<u64> = Some(0);
        const SNAPSHOT: Option<SnapshotCodec<Self>> =
            Some(SnapshotCodec { encode: |_| Ok("null".into()), decode: |_| Ok(ZeroInterval) });
    }

    struct NoSnapshots;

    impl AggregateType for NoSnapshots {
        const NAME: &'static str = "none";
    }

    #[test]
    fn a_snapshot_is_due_when_a_commit_crosses_a_multiple_of_the_interval() {
        let policy = Policy::<Every500>::of().unwrap();
        assert!(policy.due(499, 500));
        assert!(policy.due(498, 503), "a command of several events cannot jump over the multiple");
        assert!(policy.due(999, 1000));
        assert!(!policy.due(500, 501));
        assert!(!policy.due(0, 499));
        assert!(!policy.due(501, 999));
        assert!(policy.due(0, 1200), "two multiples crossed at once: one snapshot");
    }

    #[test]
    fn no_interval_or_a_zero_one_is_never_due_and_no_codec_means_no_policy() {
        assert!(!Policy::<ReadOnly>::of().unwrap().due(499, 500));
        assert!(!Policy::<ZeroInterval>::of().unwrap().due(0, 1), "no division by zero");
        assert!(Policy::<NoSnapshots>::of().is_none());
    }

    #[test]
    fn a_stored_snapshot_is_used_only_with_the_current_fingerprint_and_when_it_decodes() {
        let policy = Policy::<Every500>::of().unwrap();
        let taken = policy.take(&Every500 { balance: 7 }, 500).unwrap();
        assert_eq!((taken.version, taken.fingerprint, taken.state.as_str()), (500, 0xfeed, r#"{"balance":7}"#));
        assert_eq!(policy.restore(&taken).unwrap(), Every500 { balance: 7 });

        let older_shape = Snapshot { fingerprint: 0xbeef, ..taken.clone() };
        let error = policy.restore(&older_shape).unwrap_err();
        assert!(matches!(error, Unusable::OtherShape { stored: 0xbeef, current: 0xfeed }), "{error:?}");
        assert_eq!(
            error.to_string(),
            "it was written by another shape of the state (fingerprint 0xbeef, the current one is 0xfeed)"
        );

        let garbled = Snapshot { state: r#"{"balance":"seven"}"#.into(), ..taken };
        let error = policy.restore(&garbled).unwrap_err();
        assert!(matches!(error, Unusable::Undecodable(_)), "{error:?}");
        assert!(error.to_string().starts_with("it does not decode as the state: invalid type"), "{error}");
    }
}
