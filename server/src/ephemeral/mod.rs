//! State that lives only while the server runs and is lost, harmlessly, with it: who is online.
//! In memory on one instance.

pub mod presence;
