//! Pieces of the chat screen.

pub mod banner;
pub mod composer;
pub mod credentials_form;
pub mod message_list;
pub mod room_list;
pub mod room_view;
pub mod text;
