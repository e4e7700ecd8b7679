//! CTAPHID transports: hidraw devices, Unix sockets and UDP.
