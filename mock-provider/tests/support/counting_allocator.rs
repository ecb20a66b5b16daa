//! A counting global allocator for the memory tests: live bytes, live
//! allocations and the peak of live bytes. A test binary that includes
//! this file (`#[path = "support/counting_allocator.rs"] mod ...;`) counts
//! every allocation it makes, so it should hold one test.
#![allow(dead_code)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicIsize, Ordering};

/// Counts live bytes and live allocations, as requested (malloc adds its
/// own overhead per allocation on top, so allocations are counted too).
pub struct Counting;

pub static LIVE_BYTES: AtomicIsize = AtomicIsize::new(0);
pub static LIVE_ALLOCATIONS: AtomicIsize = AtomicIsize::new(0);
pub static PEAK_BYTES: AtomicIsize = AtomicIsize::new(0);

// SAFETY: every call is forwarded to `System` unchanged; only counters are
// added.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let now = LIVE_BYTES.fetch_add(layout.size() as isize, Ordering::Relaxed);
        PEAK_BYTES.fetch_max(now + layout.size() as isize, Ordering::Relaxed);
        LIVE_ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: the caller's contract is passed on as is.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE_BYTES.fetch_sub(layout.size() as isize, Ordering::Relaxed);
        LIVE_ALLOCATIONS.fetch_sub(1, Ordering::Relaxed);
        // SAFETY: as above.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let grown = new_size as isize - layout.size() as isize;
        let now = LIVE_BYTES.fetch_add(grown, Ordering::Relaxed);
        PEAK_BYTES.fetch_max(now + grown, Ordering::Relaxed);
        // SAFETY: as above.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// (bytes, allocations) alive now.
pub fn live() -> (isize, isize) {
    (
        LIVE_BYTES.load(Ordering::Relaxed),
        LIVE_ALLOCATIONS.load(Ordering::Relaxed),
    )
}

/// Starts a new peak at the bytes alive now.
pub fn reset_peak() {
    PEAK_BYTES.store(LIVE_BYTES.load(Ordering::Relaxed), Ordering::Relaxed);
}

/// The most bytes alive at once since [`reset_peak`].
pub fn peak() -> isize {
    PEAK_BYTES.load(Ordering::Relaxed)
}
