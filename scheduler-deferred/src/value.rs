//! [`Value`]: a chain's successful result with its type erased, in one pointer.
//!
//! A `Value` is a thin owning pointer to a heap `Slot<T>`: a header (the `TypeId` of `T`, a
//! drop function, and whether `T` has drop glue, which lets a dropped chain skip the iterative
//! teardown for plain values) followed by an `Option<T>`. Compared with `Box<dyn Any>` it saves
//! the virtual `type_id` call (its 16-byte result comes back through memory, a store-forwarding
//! stall, twice per callback) and it keeps `Result<Value, Failure>` at two words, which come
//! back from a callback in registers. Measured on a 200,000-callback chain, together with the
//! two-word `Step`: running it went from about 30 ns to about 4 ns per callback.
//!
//! A callback takes the `T` out and, when its output has the same type, writes it back into
//! the same slot, so a chain of same-typed callbacks allocates nothing per step. The null
//! pointer is the *spent* marker: the result was taken.
//!
//! A freed slot's memory is kept for the next `Value` of the same layout on the same thread
//! (one slot per thread, see [`spare`]): create-fire-drop of a Deferred then costs no
//! allocator call for its value (glibc's `malloc` + `free` measured about 140 instructions,
//! a fifth of `deferred_fire`).

use std::alloc::Layout;
use std::any::TypeId;
use std::ptr::NonNull;

/// The type-independent start of every `Slot<T>` (both `repr(C)`, same leading fields).
#[repr(C)]
struct Header {
    type_id: TypeId,
    /// Frees the whole `Slot<T>` this header starts.
    drop_slot: unsafe fn(NonNull<Header>),
    /// `T` has drop glue (so it may own a Deferred; see [`Value::is_plain`]).
    needs_drop: bool,
}

#[repr(C)]
struct Slot<T> {
    header: Header,
    value: Option<T>,
}

/// A type-erased successful value (see the module doc); `None` inside means spent.
pub(crate) struct Value {
    slot: Option<NonNull<Header>>,
}

// SAFETY: a `Value` owns its slot exclusively (like a `Box`), and `Value::new` only accepts
// `T: Send`, so moving the owner to another thread moves a `Send` value.
unsafe impl Send for Value {}

/// What a typed reader found in a [`Value`].
pub(crate) enum Taken<T> {
    /// The value.
    Value(T),
    /// The result was taken earlier.
    Spent,
    /// The value is of another type.
    Mismatch,
}

/// Drops a `Slot<T>` and gives its memory back (to this thread's spare, else the allocator).
///
/// # Safety
///
/// `header` must come from [`Value::new`] with this `T` and be freed only once.
unsafe fn drop_slot<T>(header: NonNull<Header>) {
    let slot = header.cast::<Slot<T>>();
    // SAFETY: per this function's contract the pointer is a live, uniquely owned, initialised
    // `Slot<T>`; it is dropped once, here, and not used again except as raw memory below.
    unsafe { std::ptr::drop_in_place(slot.as_ptr()) };
    // SAFETY: the memory was allocated with `Layout::new::<Slot<T>>()` (by `Value::new`, from
    // the allocator or from a spare of that same layout) and nothing refers to it any more.
    unsafe { spare::release(slot.cast::<u8>(), Layout::new::<Slot<T>>()) };
}

/// One thread-local spare slot's memory: `Value::new` takes it when the layout matches,
/// `drop_slot` puts freed memory back when it is empty. The memory is plain (the value in it
/// was dropped), so keeping it changes nothing observable but the allocator calls saved.
/// Under `cfg(loom)` there is no spare (loom runs every modelled thread on one OS thread).
mod spare {
    use std::alloc::{alloc, dealloc, handle_alloc_error, Layout};
    use std::ptr::NonNull;

    /// Fresh memory for `layout` (never zero-sized: every slot starts with a header).
    #[inline]
    pub(super) fn acquire(layout: Layout) -> NonNull<u8> {
        if let Some(ptr) = take(layout) {
            return ptr;
        }
        // SAFETY: `layout` has a non-zero size (a `Slot` always holds its `Header`).
        let ptr = unsafe { alloc(layout) };
        NonNull::new(ptr).unwrap_or_else(|| handle_alloc_error(layout))
    }

    /// Gives `ptr` back: kept as this thread's spare if there is none, else deallocated.
    ///
    /// # Safety
    ///
    /// `ptr` must have been allocated by the global allocator with `layout` and be unused.
    #[inline]
    pub(super) unsafe fn release(ptr: NonNull<u8>, layout: Layout) {
        if let Err(ptr) = keep(ptr, layout) {
            // SAFETY: per this function's contract.
            unsafe { dealloc(ptr.as_ptr(), layout) };
        }
    }

    #[cfg(not(loom))]
    mod imp {
        use std::alloc::{dealloc, Layout};
        use std::cell::Cell;
        use std::ptr::NonNull;

        /// The spare: memory of `Layout` from the global allocator, owned by this thread.
        pub(super) struct Spare(pub(super) Cell<Option<(NonNull<u8>, Layout)>>);

        impl Drop for Spare {
            fn drop(&mut self) {
                if let Some((ptr, layout)) = self.0.take() {
                    // SAFETY: `keep` stores only memory allocated with `layout` and unused;
                    // the thread is exiting, so nothing takes it any more.
                    unsafe { dealloc(ptr.as_ptr(), layout) };
                }
            }
        }

        thread_local! {
            pub(super) static SPARE: Spare = const { Spare(Cell::new(None)) };
        }
    }

    #[cfg(not(loom))]
    #[inline]
    fn take(layout: Layout) -> Option<NonNull<u8>> {
        imp::SPARE
            .try_with(|spare| match spare.0.get() {
                Some((ptr, kept)) if kept == layout => {
                    spare.0.set(None);
                    Some(ptr)
                }
                _ => None,
            })
            .ok()
            .flatten()
    }

    #[cfg(not(loom))]
    #[inline]
    fn keep(ptr: NonNull<u8>, layout: Layout) -> Result<(), NonNull<u8>> {
        imp::SPARE
            .try_with(|spare| match spare.0.get() {
                None => {
                    spare.0.set(Some((ptr, layout)));
                    Ok(())
                }
                Some(_) => Err(ptr),
            })
            .unwrap_or(Err(ptr))
    }

    #[cfg(loom)]
    fn take(_layout: Layout) -> Option<NonNull<u8>> {
        None
    }

    #[cfg(loom)]
    fn keep(ptr: NonNull<u8>, _layout: Layout) -> Result<(), NonNull<u8>> {
        Err(ptr)
    }
}

impl Value {
    /// Boxes `value`.
    #[inline]
    pub(crate) fn new<T: Send + 'static>(value: T) -> Value {
        let header = Header {
            type_id: TypeId::of::<T>(),
            drop_slot: drop_slot::<T>,
            needs_drop: std::mem::needs_drop::<T>(),
        };
        let slot = spare::acquire(Layout::new::<Slot<T>>()).cast::<Slot<T>>();
        // SAFETY: `acquire` returned unused memory of `Slot<T>`'s layout, so it is valid for
        // the write; from here the `Value` owns the initialised slot.
        unsafe { slot.as_ptr().write(Slot { header, value: Some(value) }) };
        Value { slot: Some(slot.cast::<Header>()) }
    }

    /// The spent marker (no allocation).
    #[inline]
    pub(crate) fn spent() -> Value {
        Value { slot: None }
    }

    /// True for the spent marker.
    #[inline]
    pub(crate) fn is_spent(&self) -> bool {
        self.slot.is_none()
    }

    /// Spent, or of a type without drop glue: dropping it runs no code but the deallocation,
    /// so it cannot own (and drop) a Deferred.
    #[inline]
    pub(crate) fn is_plain(&self) -> bool {
        self.header().is_none_or(|header| !header.needs_drop)
    }

    /// The slot's header, unless spent.
    #[inline]
    fn header(&self) -> Option<&Header> {
        // SAFETY: a non-null `slot` points to a live slot that this `Value` owns; `Header` is
        // its `repr(C)` prefix, so reading the header through it is valid for `&self`'s life.
        self.slot.map(|header| unsafe { header.as_ref() })
    }

    /// The `Option<T>` inside, if the slot holds a `T`.
    #[inline]
    fn value_mut<T: 'static>(&mut self) -> Option<&mut Option<T>> {
        if self.header()?.type_id != TypeId::of::<T>() {
            return None;
        }
        let header = self.slot?;
        // SAFETY: the header's `TypeId` is `T`'s, so the slot is a `Slot<T>`; the `&mut self`
        // borrow makes the returned reference unique for its lifetime.
        Some(unsafe { &mut (*header.cast::<Slot<T>>().as_ptr()).value })
    }

    /// Takes the `T` out, leaving the slot empty for reuse.
    #[inline]
    pub(crate) fn take<T: 'static>(&mut self) -> Taken<T> {
        if self.is_spent() {
            return Taken::Spent;
        }
        match self.value_mut::<T>() {
            Some(value) => value.take().map_or(Taken::Spent, Taken::Value),
            None => Taken::Mismatch,
        }
    }

    /// Stores `u` in this slot if it is a `Slot<U>`, else in a new one.
    #[inline]
    pub(crate) fn store<U: Send + 'static>(mut self, u: U) -> Value {
        match self.value_mut::<U>() {
            Some(place) => {
                *place = Some(u);
                self
            }
            None => Value::new_outlined(u),
        }
    }

    /// [`Value::new`] out of line, for the paths of a callback that allocate (a type change,
    /// an errback's recovery): keeps the same-type path (every step of a same-typed chain)
    /// small enough to inline into the callback.
    #[inline(never)]
    pub(crate) fn new_outlined<U: Send + 'static>(u: U) -> Value {
        Value::new(u)
    }
}

impl Drop for Value {
    fn drop(&mut self) {
        if let Some(header) = self.slot.take() {
            // SAFETY: the header is live and owned by this `Value`, which gives it up here.
            let drop_slot = unsafe { header.as_ref() }.drop_slot;
            // SAFETY: `header` came from `Value::new` with the matching `T`, freed only here.
            unsafe { drop_slot(header) };
        }
    }
}
