//! The names of the API on the bus and its contract.

/// latchkeyd's well-known bus name.
pub const BUS_NAME: &str = "dev.latchkey.Credentials";
/// The object path of the service.
pub const OBJECT_PATH: &str = "/dev/latchkey/Credentials";
/// The service's interface.
pub const INTERFACE: &str = "dev.latchkey.Credentials1";
/// The interface of each request object (`Close()`, `Response`).
pub const REQUEST_INTERFACE: &str = "dev.latchkey.Request1";
/// Interface version (`Version` property).
pub const API_VERSION: u32 = 1;
/// The interface description, the contract the running service is checked against.
pub const INTERFACE_XML: &str = include_str!("../../../data/dev.latchkey.Credentials1.xml");
