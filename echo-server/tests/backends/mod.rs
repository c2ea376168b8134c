//! Every echo-server test runs against both event loops, from one body: wrapped in
//! [`on_both_backends!`], a test `NAME` becomes the module `NAME` with the tests `epoll`
//! (the default loop) and `uring` (`--io uring`, Linux), which call the body with the
//! backend's flags as its argument, to add to every server it starts.

/// The flags that choose the io_uring loop.
pub const URING: &[&str] = &["--io", "uring"];

/// `fn NAME(io) { ... }` → `mod NAME { fn epoll(); fn uring() }`, each a `#[test]`
/// running the body with `io` = the backend's flags (`&[]` for epoll).
#[macro_export]
macro_rules! on_both_backends {
    ($(#[$meta:meta])* fn $name:ident($io:ident) $body:block) => {
        $(#[$meta])*
        mod $name {
            #[allow(unused_imports)]
            use super::*;

            fn body($io: &[&str]) $body

            #[test]
            fn epoll() {
                body(&[]);
            }

            #[cfg(target_os = "linux")]
            #[test]
            fn uring() {
                body($crate::backends::URING);
            }
        }
    };
}
