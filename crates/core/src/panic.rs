//! Reading a caught panic.

use std::any::Any;

/// The text a panic was raised with: `Some` when its payload is a `&'static str`
/// (`panic!("literal")`) or a `String` (`panic!("{x}")`), as `std` prints it; `None` for
/// any other payload (`std::panic::panic_any`).
///
/// # Examples
///
/// ```
/// use patterns_core::panic_message;
///
/// let caught = std::panic::catch_unwind(|| panic!("disk {} full", 2)).unwrap_err();
/// assert_eq!(panic_message(&*caught), Some("disk 2 full"));
/// let caught = std::panic::catch_unwind(|| std::panic::panic_any(7)).unwrap_err();
/// assert_eq!(panic_message(&*caught), None);
/// ```
#[must_use]
pub fn panic_message(payload: &(dyn Any + Send)) -> Option<&str> {
    if let Some(text) = payload.downcast_ref::<&'static str>() {
        Some(text)
    } else {
        payload.downcast_ref::<String>().map(String::as_str)
    }
}
