//! Logging and spans through [`tracing`](https://docs.rs/tracing), behind the `tracing`
//! feature (on by default).
//!
//! The rest of the crate writes `trace::warn!(..)`, `trace::info_span!(..)` and
//! `.instrument(span)` whatever the feature says. With the feature on these are tracing's own;
//! with it off they are stand-ins that still type-check every field (so a value used only in
//! a log line does not become an unused variable) and compile to nothing.

// The whole facade is re-exported, whether or not every piece is in use today.
#![allow(unused_imports, dead_code)]

#[cfg(feature = "tracing")]
pub(crate) use tracing::{Instrument, Span, debug, debug_span, error, field, info_span, warn};

#[cfg(not(feature = "tracing"))]
pub(crate) use off::*;

#[cfg(not(feature = "tracing"))]
mod off {
    /// Stands in for `tracing::field`.
    pub(crate) mod field {
        /// A field whose value is recorded later.
        pub(crate) struct Empty;
    }

    /// Stands in for `tracing::Span`: records nothing.
    #[derive(Debug, Clone)]
    pub(crate) struct Span;

    impl Span {
        pub(crate) fn record<V>(&self, _field: &str, _value: V) -> &Self {
            self
        }

        pub(crate) fn in_scope<T>(&self, f: impl FnOnce() -> T) -> T {
            f()
        }
    }

    /// Stands in for `tracing::Instrument`: the future unchanged.
    pub(crate) trait Instrument: Sized {
        fn instrument(self, _span: Span) -> Self {
            self
        }
    }

    impl<F: std::future::Future> Instrument for F {}

    /// Type-checks tracing's field syntax (`name = %value`, `name = ?value`, `name = value`,
    /// `name`, then an optional format string) and evaluates nothing.
    macro_rules! __fields {
        () => {};
        ($fmt:literal $(, $arg:expr)* $(,)?) => { let _ = ::std::format!($fmt $(, $arg)*); };
        ($key:ident = % $value:expr $(, $($rest:tt)*)?) => { let _ = &$value; $($crate::trace::__fields!($($rest)*);)? };
        ($key:ident = ? $value:expr $(, $($rest:tt)*)?) => { let _ = &$value; $($crate::trace::__fields!($($rest)*);)? };
        ($key:ident = $value:expr $(, $($rest:tt)*)?) => { let _ = &$value; $($crate::trace::__fields!($($rest)*);)? };
        ($key:ident $(, $($rest:tt)*)?) => { let _ = &$key; $($crate::trace::__fields!($($rest)*);)? };
    }

    macro_rules! __event {
        ($($fields:tt)*) => {
            if false {
                $crate::trace::__fields!($($fields)*);
            }
        };
    }

    macro_rules! __span {
        ($name:literal $(, $($fields:tt)*)?) => {{
            if false {
                $($crate::trace::__fields!($($fields)*);)?
            }
            $crate::trace::Span
        }};
    }

    pub(crate) use {
        __event as debug, __event as error, __event as warn, __fields, __span as debug_span, __span as info_span,
    };
}

#[cfg(test)]
mod tests {
    use super::Instrument;

    #[tokio::test]
    async fn spans_and_events_take_tracing_field_syntax() {
        let stream = "bank-account/acc-1";
        let attempts = 2_u32;
        let error = std::io::Error::other("disk full");
        let span = super::info_span!("command", stream = %stream, attempts, version = super::field::Empty);
        span.record("version", 7_u64);
        super::warn!(stream = %stream, error = %error, attempts = ?attempts, "snapshot not saved: {}", error);
        super::debug!("plain message");
        let answer = async { 42 }.instrument(span).await;
        assert_eq!(answer, 42);
    }
}
