//! Integration tests of the bearer middleware against servers on 127.0.0.1.

mod api;
mod discover;
mod errors;
mod origins;
mod redirects;
mod support;
mod testkit;
mod unauthorized;
