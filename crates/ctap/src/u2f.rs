//! U2F/CTAP1 raw messages carried in ISO 7816-4 APDUs.
