//! Data for the admin pages. Server-rendered pages read it through `AdminBackend`, which the
//! server provides as Leptos context (so the SQL stays in the server); pages reached by
//! in-app navigation fetch the same from `/api/admin/*`.

use crate::models::{AdminRoom, Dashboard, User};
use std::future::Future;

/// What the server lends the admin pages while rendering them.
#[cfg(feature = "ssr")]
pub trait AdminBackend: Send + Sync + 'static {
    /// Rooms with their figures.
    fn rooms(
        &self,
    ) -> std::pin::Pin<Box<dyn Future<Output = Result<Vec<AdminRoom>, String>> + Send>>;
    /// Users, optionally searched by name.
    fn users(
        &self,
        search: Option<String>,
    ) -> std::pin::Pin<Box<dyn Future<Output = Result<Vec<User>, String>> + Send>>;
    /// The dashboard now.
    fn dashboard(
        &self,
    ) -> std::pin::Pin<Box<dyn Future<Output = Result<Dashboard, String>> + Send>>;
}

/// The backend as context.
#[cfg(feature = "ssr")]
pub type SharedAdminBackend = std::sync::Arc<dyn AdminBackend>;

#[cfg(feature = "ssr")]
fn backend() -> Option<SharedAdminBackend> {
    leptos::prelude::use_context::<SharedAdminBackend>()
}

#[cfg(feature = "ssr")]
fn missing<T>() -> Result<T, String> {
    Err("The admin data is not available.".into())
}

/// Rooms with their figures.
pub fn rooms() -> impl Future<Output = Result<Vec<AdminRoom>, String>> + Send + 'static {
    #[cfg(feature = "ssr")]
    {
        let backend = backend();
        async move {
            match backend {
                Some(b) => b.rooms().await,
                None => missing(),
            }
        }
    }
    #[cfg(not(feature = "ssr"))]
    browser(crate::api::admin_rooms())
}

/// Users, optionally searched.
pub fn users(
    search: Option<String>,
) -> impl Future<Output = Result<Vec<User>, String>> + Send + 'static {
    #[cfg(feature = "ssr")]
    {
        let backend = backend();
        async move {
            match backend {
                Some(b) => b.users(search).await,
                None => missing(),
            }
        }
    }
    #[cfg(not(feature = "ssr"))]
    browser(async move { crate::api::admin_users(search.as_deref()).await })
}

/// The dashboard now.
pub fn dashboard() -> impl Future<Output = Result<Dashboard, String>> + Send + 'static {
    #[cfg(feature = "ssr")]
    {
        let backend = backend();
        async move {
            match backend {
                Some(b) => b.dashboard().await,
                None => missing(),
            }
        }
    }
    #[cfg(not(feature = "ssr"))]
    browser(crate::api::admin_dashboard())
}

/// Browser futures are not `Send`; the page only ever polls them on its one thread.
#[cfg(not(feature = "ssr"))]
fn browser<T: 'static>(
    call: impl Future<Output = Result<T, crate::api::ApiError>> + 'static,
) -> impl Future<Output = Result<T, String>> + Send + 'static {
    #[cfg(feature = "hydrate")]
    {
        send_wrapper::SendWrapper::new(async move { call.await.map_err(|e| e.to_string()) })
    }
    #[cfg(not(feature = "hydrate"))]
    {
        drop(call);
        async { Err::<T, String>("Only the browser calls the API.".into()) }
    }
}
