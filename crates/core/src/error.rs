//! Why a [`CancelToken`](crate::CancelToken) fired.

/// Why a [`CancelToken`](crate::CancelToken) reads as cancelled; also the error that
/// [`CancelToken::check`](crate::CancelToken::check) returns, so job code can write
/// `token.check()?`.
///
/// # Examples
///
/// ```
/// use patterns_core::{CancelReason, CancelToken};
///
/// let token = CancelToken::new();
/// assert_eq!(token.check(), Ok(()));
/// token.cancel();
/// assert_eq!(token.check(), Err(CancelReason::Cancelled));
/// assert_eq!(CancelReason::Cancelled.to_string(), "operation cancelled");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, thiserror::Error)]
pub enum CancelReason {
    /// [`cancel`](crate::CancelToken::cancel) was called on the token or an ancestor.
    #[error("operation cancelled")]
    Cancelled,
    /// The deadline of the token, or of an ancestor, has passed.
    #[error("deadline exceeded")]
    DeadlineExceeded,
}
