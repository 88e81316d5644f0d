//! State that lives only while the server runs and is lost, harmlessly, with it: who is online,
//! messages per minute. In memory, on one instance.

pub mod minute_counts;
pub mod presence;
