//! The [`select!`](crate::select!) macro: Go's `select` statement, written as a [`Select`]
//! loop body.
//!
//! [`Select`]: crate::Select

/// Waits on several channel operations and runs the arm of the one that completes — Go's
/// `select` statement, crossbeam's `select!`.
///
/// ```text
/// select! {
///     recv(rx) -> msg => body,          // msg: Result<T, RecvError>
///     send(tx, value) -> res => body,   // res: Result<(), SendError<T>>
///     default => body,                  // optional, last: when nothing is ready now
///     default(timeout) => body,         // or: when nothing is ready within `timeout`
/// }
/// ```
///
/// Arms are separated by commas (optional after a block). Without a `default` arm it
/// blocks until an operation completes. Operands are tried in a random order; the
/// macro evaluates to the value of the arm that ran, and an arm's body may `break`,
/// `continue` or `return` from the enclosing code.
///
/// **A send's value expression is evaluated only if its arm is selected**: if another
/// arm or the default runs, the value was never made — nor moved out of a variable it
/// names, which can be sent on a later round. Every other guarantee is [`Select`]'s.
///
/// [`Select`]: crate::Select
///
/// # Examples
///
/// ```
/// use bounded_buffer::{channel, select};
/// use std::time::Duration;
///
/// let (results_tx, results) = channel::<u32>(1);
/// let (log_tx, log) = channel::<String>(1);
/// results_tx.send(42).unwrap();
/// log_tx.send("busy".to_owned()).unwrap(); // the log is full
///
/// let mut line = String::from("hello");
/// let got = select! {
///     recv(results) -> value => value.ok(),
///     send(log_tx, std::mem::take(&mut line)) -> _ => None, // full: never chosen
///     default(Duration::from_secs(1)) => None,
/// };
/// assert_eq!(got, Some(42));
/// assert_eq!(line, "hello", "the send's value was never taken");
/// # drop(log);
/// ```
#[macro_export]
macro_rules! select {
    ($($arms:tt)*) => {
        $crate::__select_parse!(@ [] $($arms)*)
    };
}

/// Collects the arms of a [`select!`], one per step, each with handle and index names of
/// its own (an identifier written by one expansion is distinct from the same one written
/// by another), then writes the whole select: every channel handle bound first (so a
/// temporary, `recv(after(d))`, lives as long as the select), the `Select` built, the
/// wait, and a chain of `if`s that runs the selected arm's body — in place, so that a
/// body may `break`, `continue` or `return`.
#[doc(hidden)]
#[macro_export]
macro_rules! __select_parse {
    // Collecting: a block body may end its arm without a comma.
    (@ [$($acc:tt)*] recv($ch:expr) -> $res:pat => $body:block, $($rest:tt)*) => {
        $crate::__select_parse!(@ [$($acc)* (recv __handle __index ($ch) (()) ($res) ($body))] $($rest)*)
    };
    (@ [$($acc:tt)*] recv($ch:expr) -> $res:pat => $body:block $($rest:tt)*) => {
        $crate::__select_parse!(@ [$($acc)* (recv __handle __index ($ch) (()) ($res) ($body))] $($rest)*)
    };
    (@ [$($acc:tt)*] recv($ch:expr) -> $res:pat => $body:expr, $($rest:tt)*) => {
        $crate::__select_parse!(@ [$($acc)* (recv __handle __index ($ch) (()) ($res) ($body))] $($rest)*)
    };
    (@ [$($acc:tt)*] recv($ch:expr) -> $res:pat => $body:expr) => {
        $crate::__select_parse!(@ [$($acc)* (recv __handle __index ($ch) (()) ($res) ($body))])
    };
    (@ [$($acc:tt)*] send($ch:expr, $msg:expr) -> $res:pat => $body:block, $($rest:tt)*) => {
        $crate::__select_parse!(@ [$($acc)* (send __handle __index ($ch) ($msg) ($res) ($body))] $($rest)*)
    };
    (@ [$($acc:tt)*] send($ch:expr, $msg:expr) -> $res:pat => $body:block $($rest:tt)*) => {
        $crate::__select_parse!(@ [$($acc)* (send __handle __index ($ch) ($msg) ($res) ($body))] $($rest)*)
    };
    (@ [$($acc:tt)*] send($ch:expr, $msg:expr) -> $res:pat => $body:expr, $($rest:tt)*) => {
        $crate::__select_parse!(@ [$($acc)* (send __handle __index ($ch) ($msg) ($res) ($body))] $($rest)*)
    };
    (@ [$($acc:tt)*] send($ch:expr, $msg:expr) -> $res:pat => $body:expr) => {
        $crate::__select_parse!(@ [$($acc)* (send __handle __index ($ch) ($msg) ($res) ($body))])
    };
    // Done: the select, by kind of default.
    (@ [$($arm:tt)*]) => {
        $crate::__select_build!([$($arm)*] |select| {
            let __oper = select.select();
            $crate::__select_dispatch!(__oper; $($arm)*)
        })
    };
    (@ [$($arm:tt)*] default => $default:expr $(,)?) => {
        $crate::__select_build!([$($arm)*] |select| {
            match select.try_select() {
                ::core::result::Result::Ok(__oper) => $crate::__select_dispatch!(__oper; $($arm)*),
                ::core::result::Result::Err(_) => $default,
            }
        })
    };
    (@ [$($arm:tt)*] default($timeout:expr) => $default:expr $(,)?) => {
        $crate::__select_build!([$($arm)*] |select| {
            match select.select_timeout($timeout) {
                ::core::result::Result::Ok(__oper) => $crate::__select_dispatch!(__oper; $($arm)*),
                ::core::result::Result::Err(_) => $default,
            }
        })
    };
    (@ [$($arm:tt)*] $($other:tt)+) => {
        ::core::compile_error!(
            "expected `recv(rx) -> pat => body`, `send(tx, value) -> pat => body`, \
             or a last `default => body` / `default(timeout) => body`"
        )
    };
}

/// Binds every arm's channel handle, builds the select into the name given by
/// `|select|` (not a closure: the name of a variable), and writes `$wait` after it.
#[doc(hidden)]
#[macro_export]
macro_rules! __select_build {
    ([$(($kind:ident $handle:ident $index:ident ($ch:expr) ($msg:expr) ($res:pat) ($body:expr)))*]
     |$select:ident| $wait:block) => {{
        $( let $handle = &$ch; )*
        let mut $select = $crate::Select::new();
        $( let $index = $crate::__select_op!($kind add $select $handle); )*
        $wait
    }};
}

/// Runs the body of the arm whose index `$oper` has, completing its operation.
#[doc(hidden)]
#[macro_export]
macro_rules! __select_dispatch {
    ($oper:ident; $(($kind:ident $handle:ident $index:ident ($ch:expr) ($msg:expr) ($res:pat) ($body:expr)))*) => {
        $(
            if $oper.index() == $index {
                let $res = $crate::__select_op!($kind complete $oper $handle $msg);
                $body
            } else
        )* {
            ::core::unreachable!("every selected operation has its arm")
        }
    };
}

/// One arm's operand: added to a select, or completed.
#[doc(hidden)]
#[macro_export]
macro_rules! __select_op {
    (recv add $select:ident $handle:ident) => {
        $select.recv($crate::__private::receiver($handle))
    };
    (send add $select:ident $handle:ident) => {
        $select.send($crate::__private::sender($handle))
    };
    (recv complete $oper:ident $handle:ident $msg:expr) => {
        $oper.recv($crate::__private::receiver($handle))
    };
    (send complete $oper:ident $handle:ident $msg:expr) => {
        $oper.send($crate::__private::sender($handle), $msg)
    };
}
