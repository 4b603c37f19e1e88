//! Newtypes for secrets other than access tokens: client secrets, passwords, API keys.

/// Declares a secret string newtype: `Debug` prints `Name([redacted])`, there is no `Display`,
/// and the value is reachable only through `expose_secret()`. The value is zeroed on drop.
///
/// ```
/// tokensmith_core::secret_string! {
///     /// An API key.
///     pub struct ApiKey;
/// }
///
/// let key = ApiKey::new("k-123");
/// assert_eq!(format!("{key:?}"), "ApiKey([redacted])");
/// assert_eq!(key.expose_secret(), "k-123");
/// ```
#[macro_export]
macro_rules! secret_string {
    ($(#[$meta:meta])* $vis:vis struct $name:ident;) => {
        $(#[$meta])*
        #[derive(Clone)]
        $vis struct $name($crate::SecretString);

        impl $name {
            /// Wraps a secret value.
            $vis fn new(value: impl ::core::convert::Into<::std::string::String>) -> Self {
                Self($crate::SecretString::from(value.into()))
            }

            /// The secret itself: call this only where the value must leave the process.
            $vis fn expose_secret(&self) -> &str {
                $crate::ExposeSecret::expose_secret(&self.0)
            }
        }

        impl ::core::fmt::Debug for $name {
            fn fmt(&self, f: &mut ::core::fmt::Formatter<'_>) -> ::core::fmt::Result {
                f.write_str(::core::concat!(::core::stringify!($name), "([redacted])"))
            }
        }

        impl ::core::convert::From<::std::string::String> for $name {
            fn from(value: ::std::string::String) -> Self {
                Self::new(value)
            }
        }

        impl ::core::convert::From<&str> for $name {
            fn from(value: &str) -> Self {
                Self::new(value)
            }
        }
    };
}

#[cfg(test)]
mod tests {
    crate::secret_string! {
        /// A test secret.
        pub(crate) struct Canary;
    }

    #[test]
    fn debug_is_redacted() {
        let secret = Canary::new("canary-3e9d");
        let clone = secret.clone();
        for text in [format!("{secret:?}"), format!("{clone:#?}")] {
            assert_eq!(text, "Canary([redacted])");
        }
        assert_eq!(Canary::from("x").expose_secret(), "x");
    }
}
