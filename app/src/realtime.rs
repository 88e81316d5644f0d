//! The browser's socket: typed bindings to the official `socket.io-client` (loaded as the global
//! `io` by a `<script>` before hydration), so components use the shared event types and never
//! build JSON by hand. Reconnection, offline buffering and the long-polling fallback come with
//! that client. The socket authenticates with the HttpOnly session cookie the browser sends on
//! the same-origin handshake, so no token is ever readable by page scripts.

use crate::events::ClientEvent;
use crate::models::ErrorBody;
use serde::Deserialize;
use std::fmt;

/// Why an emit failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EmitError {
    /// The server answered `{ok: false, error}`.
    Server(ErrorBody),
    /// No ack within the timeout (disconnected or slow).
    Timeout,
    /// The ack did not match the expected shape.
    Decode(String),
}

impl fmt::Display for EmitError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EmitError::Server(body) => f.write_str(&body.message),
            EmitError::Timeout => f.write_str("The server did not answer in time."),
            EmitError::Decode(why) => write!(f, "Unexpected answer from the server: {why}"),
        }
    }
}

/// An ack as the server sends it: `{ok: true, ...fields}` or `{ok: false, error}`.
#[derive(Deserialize)]
#[serde(untagged)]
enum AckBody<T> {
    Failed { ok: False, error: ErrorBody },
    Done(T),
}

/// Matches only `false`, so a failed ack is never read as a success.
#[derive(Deserialize)]
#[serde(try_from = "bool")]
struct False;

impl TryFrom<bool> for False {
    type Error = &'static str;
    fn try_from(value: bool) -> Result<Self, Self::Error> {
        if value { Err("ok") } else { Ok(False) }
    }
}

/// Reads an ack body into the event's typed answer.
pub fn decode_ack<E: ClientEvent>(value: serde_json::Value) -> Result<E::Ack, EmitError> {
    match serde_json::from_value::<AckBody<E::Ack>>(value) {
        Ok(AckBody::Done(ack)) => Ok(ack),
        Ok(AckBody::Failed { ok: False, error }) => Err(EmitError::Server(error)),
        Err(e) => Err(EmitError::Decode(e.to_string())),
    }
}

#[cfg(feature = "hydrate")]
pub use browser::{Socket, from_js, to_js};

#[cfg(feature = "hydrate")]
mod browser {
    use super::*;
    use crate::events::ServerEvent;
    use serde::Serialize;
    use wasm_bindgen::prelude::*;

    #[wasm_bindgen]
    extern "C" {
        /// The client's `Socket` object.
        type RawSocket;

        #[wasm_bindgen(js_name = io)]
        fn io_connect(opts: &JsValue) -> RawSocket;

        #[wasm_bindgen(method)]
        fn on(this: &RawSocket, event: &str, handler: &JsValue);

        #[wasm_bindgen(method)]
        fn timeout(this: &RawSocket, ms: u32) -> RawSocket;

        #[wasm_bindgen(method, js_name = emit)]
        fn emit_with_ack(this: &RawSocket, event: &str, payload: JsValue, ack: &JsValue);

        #[wasm_bindgen(method)]
        fn disconnect(this: &RawSocket);

        #[wasm_bindgen(method)]
        fn connect(this: &RawSocket);

        #[wasm_bindgen(method, getter)]
        fn connected(this: &RawSocket) -> bool;
    }

    /// A connected (or connecting) socket to this site's server.
    #[derive(Clone)]
    pub struct Socket {
        raw: std::rc::Rc<RawSocket>,
    }

    /// A value as a JavaScript object. JSON-compatible: maps become plain objects, not JS
    /// `Map`s. The browser's own `JSON` parses and prints: the bundle carries one serde
    /// format (this one), not a JSON parser too.
    pub fn to_js<T: Serialize>(value: &T) -> JsValue {
        let serializer = serde_wasm_bindgen::Serializer::json_compatible();
        value.serialize(&serializer).unwrap_or(JsValue::NULL)
    }

    /// A JavaScript value as `T`.
    pub fn from_js<T: serde::de::DeserializeOwned>(value: JsValue) -> Result<T, String> {
        serde_wasm_bindgen::from_value(value).map_err(|e| e.to_string())
    }

    impl Socket {
        /// Connects to the page's own origin (cookie authentication), with the client's
        /// automatic reconnection.
        pub fn connect() -> Self {
            let opts = js_sys::Object::new();
            let raw = io_connect(&opts);
            Self {
                raw: std::rc::Rc::new(raw),
            }
        }

        /// Whether the socket is connected now.
        pub fn is_connected(&self) -> bool {
            self.raw.connected()
        }

        /// Calls `handler` with each `E` the server sends. Handlers live as long as the page.
        pub fn on<E: ServerEvent + 'static>(&self, handler: impl Fn(E) + 'static) {
            let closure =
                Closure::<dyn Fn(JsValue)>::new(move |value: JsValue| match from_js::<E>(value) {
                    Ok(event) => handler(event),
                    Err(e) => leptos::logging::warn!("bad {} payload: {e}", E::NAME),
                });
            self.raw.on(E::NAME, closure.as_ref());
            closure.forget();
        }

        /// Calls `handler` on each (re)connection.
        pub fn on_connect(&self, handler: impl Fn() + 'static) {
            let closure = Closure::<dyn Fn()>::new(handler);
            self.raw.on("connect", closure.as_ref());
            closure.forget();
        }

        /// Calls `handler` with the reason on each disconnection.
        pub fn on_disconnect(&self, handler: impl Fn(String) + 'static) {
            let closure = Closure::<dyn Fn(JsValue)>::new(move |reason: JsValue| {
                handler(reason.as_string().unwrap_or_default())
            });
            self.raw.on("disconnect", closure.as_ref());
            closure.forget();
        }

        /// Calls `handler` with the server's message when a connection attempt is refused.
        pub fn on_connect_error(&self, handler: impl Fn(String) + 'static) {
            let closure = Closure::<dyn Fn(JsValue)>::new(move |err: JsValue| {
                let message = js_sys::Reflect::get(&err, &"message".into())
                    .ok()
                    .and_then(|m| m.as_string())
                    .unwrap_or_default();
                handler(message)
            });
            self.raw.on("connect_error", closure.as_ref());
            closure.forget();
        }

        /// Sends `event` and waits for its ack, at most `timeout_ms`.
        pub async fn emit<E: ClientEvent>(
            &self,
            event: &E,
            timeout_ms: u32,
        ) -> Result<E::Ack, EmitError> {
            let payload = to_js(event);
            let raw = self.raw.clone();
            let promise = js_sys::Promise::new(&mut |resolve, _reject| {
                // socket.io-client calls `(err, response)`: err is set on timeout.
                let ack = Closure::once_into_js(move |err: JsValue, response: JsValue| {
                    let outcome = js_sys::Array::of2(&err, &response);
                    let _ = resolve.call1(&JsValue::NULL, &outcome);
                });
                raw.timeout(timeout_ms)
                    .emit_with_ack(E::NAME, payload.clone(), &ack);
            });
            let outcome = wasm_bindgen_futures::JsFuture::from(promise)
                .await
                .map_err(|_| EmitError::Timeout)?;
            let outcome = js_sys::Array::from(&outcome);
            let err = outcome.get(0);
            if !(err.is_null() || err.is_undefined()) {
                return Err(EmitError::Timeout);
            }
            let value: serde_json::Value = from_js(outcome.get(1)).map_err(EmitError::Decode)?;
            decode_ack::<E>(value)
        }

        /// Opens the connection again after a server-side disconnect (which the client does
        /// not retry by itself).
        pub fn reconnect(&self) {
            self.raw.connect();
        }

        /// Closes the connection for good (no reconnection).
        pub fn disconnect(&self) {
            self.raw.disconnect();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::events::{Empty, MarkRead};

    #[test]
    fn a_failed_ack_is_a_server_error() {
        let value = serde_json::json!({"ok": false, "error": {"error": "not_found", "message": "No such room."}});
        let err = decode_ack::<MarkRead>(value).unwrap_err();
        assert!(matches!(err, EmitError::Server(body) if body.error == "not_found"));
    }

    #[test]
    fn a_successful_ack_decodes() {
        let value = serde_json::json!({"ok": true});
        assert_eq!(decode_ack::<MarkRead>(value).unwrap(), Empty {});
    }
}
