//! CTAPHID framing and channel state machine (CTAP 2.1 §11.2).
