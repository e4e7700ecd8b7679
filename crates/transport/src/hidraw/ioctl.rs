//! The hidraw ioctls (linux/hidraw.h): the report descriptor and the device's IDs straight from
//! an open node, for when sysfs is not mounted or not readable.

use std::ffi::c_int;
use std::os::fd::BorrowedFd;

use rustix::io::Errno;
use rustix::ioctl::{opcode, Getter, Opcode, Updater};

use super::descriptor::MAX_DESCRIPTOR_LEN;

/// `struct hidraw_report_descriptor` (linux/hidraw.h).
#[repr(C)]
struct HidrawReportDescriptor {
    size: u32,
    value: [u8; MAX_DESCRIPTOR_LEN],
}

/// `struct hidraw_devinfo` (linux/hidraw.h).
#[repr(C)]
#[derive(Debug, Clone, Copy)]
struct HidrawDevinfo {
    bustype: u32,
    vendor: i16,
    product: i16,
}

const HIDIOCGRDESCSIZE: Opcode = opcode::read::<c_int>(b'H', 0x01);
const HIDIOCGRDESC: Opcode = opcode::read::<HidrawReportDescriptor>(b'H', 0x02);
const HIDIOCGRAWINFO: Opcode = opcode::read::<HidrawDevinfo>(b'H', 0x03);

/// Every ioctl request this module sends to a hidraw node, for a sandbox that allows these and
/// refuses the rest.
pub const REQUESTS: [Opcode; 3] = [HIDIOCGRDESCSIZE, HIDIOCGRDESC, HIDIOCGRAWINFO];

/// A hidraw device's bus and IDs (`HIDIOCGRAWINFO`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RawInfo {
    /// `BUS_USB` (3), `BUS_BLUETOOTH` (5), …
    pub bus_type: u32,
    /// USB vendor ID.
    pub vendor_id: u16,
    /// USB product ID.
    pub product_id: u16,
}

/// Reads the report descriptor with `HIDIOCGRDESCSIZE` then `HIDIOCGRDESC`.
pub(super) fn report_descriptor(fd: BorrowedFd<'_>) -> Result<Vec<u8>, Errno> {
    #[allow(unsafe_code)] // an ioctl; the kernel writes one c_int
    // SAFETY: HIDIOCGRDESCSIZE is _IOR('H', 0x01, int): the kernel writes exactly one `c_int`
    // into the Getter's buffer, which is `c_int`-sized; on a non-hidraw fd it fails with ENOTTY.
    let size = unsafe { rustix::ioctl::ioctl(fd, Getter::<HIDIOCGRDESCSIZE, c_int>::new())? };
    let size = usize::try_from(size)
        .ok()
        .filter(|s| *s <= MAX_DESCRIPTOR_LEN)
        .ok_or(Errno::RANGE)?;
    let mut desc = Box::new(HidrawReportDescriptor {
        size: u32::try_from(size).map_err(|_| Errno::RANGE)?,
        value: [0; MAX_DESCRIPTOR_LEN],
    });
    #[allow(unsafe_code)] // an ioctl; the kernel reads `size` and fills `value`
    // SAFETY: HIDIOCGRDESC reads `size` from and writes at most `size` (≤ HID_MAX_DESCRIPTOR_SIZE,
    // checked above) bytes into `value` of the `#[repr(C)]` struct that matches linux/hidraw.h,
    // which stays borrowed mutably for the whole call.
    unsafe {
        rustix::ioctl::ioctl(
            fd,
            Updater::<HIDIOCGRDESC, HidrawReportDescriptor>::new(&mut desc),
        )?;
    }
    Ok(desc.value[..size].to_vec())
}

/// Reads bus type and IDs with `HIDIOCGRAWINFO`.
pub(super) fn raw_info(fd: BorrowedFd<'_>) -> Result<RawInfo, Errno> {
    #[allow(unsafe_code)] // an ioctl; the kernel writes one hidraw_devinfo
    // SAFETY: HIDIOCGRAWINFO is _IOR('H', 0x03, struct hidraw_devinfo): the kernel writes one
    // struct of the `#[repr(C)]` layout declared above into the Getter's buffer.
    let info = unsafe { rustix::ioctl::ioctl(fd, Getter::<HIDIOCGRAWINFO, HidrawDevinfo>::new())? };
    Ok(RawInfo {
        bus_type: info.bustype,
        vendor_id: info.vendor as u16,
        product_id: info.product as u16,
    })
}
