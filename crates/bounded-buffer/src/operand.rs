//! What a [`Select`](crate::Select) does with one operand, on each flavor: claim the
//! operation, register for a wake-up, accept a partner's selection, tell whether its
//! readiness may have changed — and the [`Token`] a claim leaves for the
//! [`SelectedOperation`](crate::SelectedOperation) to complete or give up.

use core::ptr::NonNull;
use std::time::Instant;

use crate::array::{Ready, SlotClaim};
use crate::channel::{Chan, Flavor};
use crate::context::{Context, Operation, Side};
use crate::error::{RecvError, SendError};
use crate::list::{self, EntryClaim};
use crate::sync::Arc;
use crate::zero::{Claim, Packet, Pairing};

/// What a select's claim holds until its operation completes (or is given up).
pub(crate) enum Token {
    /// The channel is closed: a receive reads `RecvError`, a send hands its value back.
    Closed,
    /// A ring slot, to empty (a receive) or fill (a send).
    Slot(SlotClaim),
    /// A slot of an unbounded channel, to empty (a receive).
    Entry(EntryClaim),
    /// A send on an unbounded channel, which always has room: nothing is claimed, and
    /// the send is made when the operation completes. If the channel closed in
    /// between, the value comes back in the send's error, as it would from a closed
    /// channel's token.
    Room,
    /// A receive's value, taken already (from a rendezvous partner or a timer): a `T`.
    Value(Erased),
    /// A send's rendezvous partner, waiting for the value: a [`Pairing<T>`].
    Partner(Erased),
}

/// A boxed value of a type the holder knows only by the channel it came from: a token
/// does not name `T`, as one select's operands have different ones.
pub(crate) struct Erased {
    ptr: NonNull<()>,
    /// Drops the box as the type it was made from (a value, or a pairing, which then
    /// declines).
    drop: unsafe fn(NonNull<()>),
}

impl Erased {
    fn new<X>(value: X) -> Erased {
        Erased {
            ptr: NonNull::from(Box::leak(Box::new(value))).cast(),
            drop: drop_boxed::<X>,
        }
    }

    /// The value, as the type it was made from.
    ///
    /// # Safety
    ///
    /// The value was made by [`Erased::new`] from an `X`.
    unsafe fn into_inner<X>(self) -> X {
        let ptr = self.ptr.cast::<X>();
        core::mem::forget(self);
        // SAFETY: made by `new` from an `X` (the caller's contract) by `Box::leak`, and
        // reclaimed once: `self` is forgotten, so its drop does not free it again.
        *unsafe { Box::from_raw(ptr.as_ptr()) }
    }
}

/// # Safety
///
/// `ptr` is an `Erased`'s, made from an `X`, not reclaimed before.
unsafe fn drop_boxed<X>(ptr: NonNull<()>) {
    // SAFETY: the caller's contract.
    drop(unsafe { Box::from_raw(ptr.cast::<X>().as_ptr()) });
}

impl Drop for Erased {
    fn drop(&mut self) {
        // SAFETY: `drop` is the dropper of the type `ptr` was made from, and this is the
        // only reclaim (`into_inner` forgets the `Erased`).
        unsafe { (self.drop)(self.ptr) }
    }
}

/// What a select left registered on one operand, to accept or undo.
pub(crate) enum Registration<T> {
    /// In a ring's or a timer's waker: a wake-up only says "try again".
    Waker,
    /// In a rendezvous channel's waiters, with the packet a partner fills (a receive) or
    /// waits on (a send).
    Packet(Arc<Packet<T>>),
}

impl<T> Chan<T> {
    /// Claims `side`'s operation if it can complete now (or the channel is closed).
    pub(crate) fn select_claim(&self, side: Side) -> Option<Token> {
        match &self.flavor {
            Flavor::Array(array) => array.claim(side).map(|ready| match ready {
                Ready::Slot(claim) => Token::Slot(claim),
                Ready::Closed => Token::Closed,
            }),
            Flavor::Zero(zero) => zero.claim(side).map(token_of),
            Flavor::List(list) => list.claim(side).map(|ready| match ready {
                list::Ready::Entry(claim) => Token::Entry(claim),
                list::Ready::Room => Token::Room,
                list::Ready::Closed => Token::Closed,
            }),
            Flavor::Timer(timer) => match timer.try_recv() {
                Ok(due) => Some(Token::Value(Erased::new(due))),
                Err(crate::wait::Failure::Closed) => Some(Token::Closed),
                Err(_) => None,
            },
        }
    }

    /// Registers `side`'s operation under `oper`; `None` if it is ready after all.
    pub(crate) fn select_register(
        &self,
        side: Side,
        oper: Operation,
        cx: &Context,
    ) -> Option<Registration<T>> {
        match &self.flavor {
            Flavor::Array(array) => array
                .register(side, oper, cx)
                .then_some(Registration::Waker),
            Flavor::Zero(zero) => zero.register(side, oper, cx).map(Registration::Packet),
            Flavor::List(list) => list.register(side, oper, cx).then_some(Registration::Waker),
            Flavor::Timer(timer) => timer.register(oper, cx).then_some(Registration::Waker),
        }
    }

    pub(crate) fn select_unregister(&self, side: Side, oper: Operation) {
        match &self.flavor {
            Flavor::Array(array) => array.unregister(side, oper),
            Flavor::Zero(zero) => zero.unregister(oper),
            Flavor::List(list) => list.unregister(side, oper),
            Flavor::Timer(timer) => timer.unregister(oper),
        }
    }

    /// After the select was woken for this registration: a rendezvous partner paired
    /// with it (take or hand over the value); a ring or timer only woke it, so claim
    /// again — another thread may have been faster (`None`).
    pub(crate) fn select_accept(
        &self,
        side: Side,
        registration: Registration<T>,
        cx: &Context,
    ) -> Option<Token> {
        match (&self.flavor, registration) {
            (Flavor::Zero(zero), Registration::Packet(packet)) => {
                zero.accept(side, packet, cx).map(token_of)
            }
            _ => self.select_claim(side),
        }
    }

    /// Whether `side`'s readiness may have changed since an equal reading (see
    /// `Array::version`).
    pub(crate) fn select_version(&self) -> [usize; 2] {
        match &self.flavor {
            Flavor::Array(array) => array.version(),
            Flavor::Zero(zero) => [zero.version(), 0],
            Flavor::List(list) => list.version(),
            Flavor::Timer(timer) => timer.version(),
        }
    }

    /// When the operand becomes ready by itself: a timer's next due instant.
    pub(crate) fn select_due(&self) -> Option<Instant> {
        match &self.flavor {
            Flavor::Timer(timer) => timer.due(),
            _ => None,
        }
    }

    /// Completes a receive with its token.
    ///
    /// # Safety
    ///
    /// `token` was claimed (or accepted) on this channel for `Side::Receivers`.
    pub(crate) unsafe fn select_recv(&self, token: Token) -> Result<T, RecvError> {
        match (token, &self.flavor) {
            (Token::Closed, _) => Err(RecvError),
            // SAFETY: a receive's slot claim on this ring (the caller's contract).
            (Token::Slot(claim), Flavor::Array(array)) => Ok(unsafe { array.read(claim) }),
            // SAFETY: a receive's slot claim on this list (the caller's contract).
            (Token::Entry(claim), Flavor::List(list)) => Ok(unsafe { list.read(claim) }),
            // SAFETY: a receive's value on a channel of `T` is a `T`.
            (Token::Value(value), _) => Ok(unsafe { value.into_inner::<T>() }),
            _ => unreachable!("a receive's token comes from its own channel"),
        }
    }

    /// Completes a send of `msg` with its token.
    ///
    /// # Safety
    ///
    /// `token` was claimed (or accepted) on this channel for `Side::Senders`.
    pub(crate) unsafe fn select_send(&self, token: Token, msg: T) -> Result<(), SendError<T>> {
        match (token, &self.flavor) {
            (Token::Closed, _) => Err(SendError(msg)),
            (Token::Slot(claim), Flavor::Array(array)) => {
                // SAFETY: a send's slot claim on this ring (the caller's contract).
                unsafe { array.write(claim, msg) };
                Ok(())
            }
            (Token::Room, Flavor::List(list)) => list.send(msg).map_err(|(msg, _)| SendError(msg)),
            (Token::Partner(pairing), _) => {
                // SAFETY: a send's partner on a channel of `T` is a `Pairing<T>`.
                unsafe { pairing.into_inner::<Pairing<T>>() }.complete(msg);
                Ok(())
            }
            _ => unreachable!("a send's token comes from its own channel"),
        }
    }

    /// Gives up an operation the select claimed and that will not complete: a receive's
    /// value is dropped, a send's room or partner released (see `Array::abandon`,
    /// `Pairing`'s drop).
    ///
    /// # Safety
    ///
    /// As [`select_recv`](Chan::select_recv) or [`select_send`](Chan::select_send) for
    /// `side`.
    pub(crate) unsafe fn select_abandon(&self, side: Side, token: Token) {
        match (token, &self.flavor) {
            // SAFETY: a slot claim on this ring for `side` (the caller's contract).
            (Token::Slot(claim), Flavor::Array(array)) => unsafe { array.abandon(side, claim) },
            // SAFETY: a receive's slot claim on this list (the caller's contract: only
            // receives claim slots of a list).
            (Token::Entry(claim), Flavor::List(list)) => unsafe { list.abandon(claim) },
            // The erased box drops as what it was made from.
            (token, _) => drop(token),
        }
    }
}

/// The token of what a rendezvous channel found.
fn token_of<T>(claim: Claim<T>) -> Token {
    match claim {
        Claim::Closed => Token::Closed,
        Claim::Value(msg) => Token::Value(Erased::new(msg)),
        Claim::Partner(pairing) => Token::Partner(Erased::new(pairing)),
    }
}
