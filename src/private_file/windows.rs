//! The Windows counterpart of mode 0600: a protected DACL (nothing inherited from the folder) with one entry
//! granting the current user full access, set on a file's handle right after it is made (before anything is
//! written to it) and read back; and a file's owner, for the "belongs to another user" check.
//!
//! Tested only by the Windows CI job (see the README's list).

use std::fs::File;
use std::os::windows::io::AsRawHandle;

use windows_sys::Win32::Foundation::{CloseHandle, LocalFree, ERROR_SUCCESS, HANDLE};
use windows_sys::Win32::Security::Authorization::{
    GetSecurityInfo, SetSecurityInfo, SE_FILE_OBJECT,
};
use windows_sys::Win32::Security::{
    AddAccessAllowedAce, EqualSid, GetAce, GetLengthSid, GetSecurityDescriptorControl,
    GetTokenInformation, InitializeAcl, TokenUser, ACCESS_ALLOWED_ACE, ACL, ACL_REVISION,
    DACL_SECURITY_INFORMATION, OWNER_SECURITY_INFORMATION, PROTECTED_DACL_SECURITY_INFORMATION,
    PSECURITY_DESCRIPTOR, PSID, SE_DACL_PROTECTED, TOKEN_QUERY, TOKEN_USER,
};
use windows_sys::Win32::Storage::FileSystem::{
    FILE_ALL_ACCESS, FILE_GENERIC_READ, FILE_GENERIC_WRITE, READ_CONTROL, WRITE_DAC,
};
use windows_sys::Win32::System::SystemServices::ACCESS_ALLOWED_ACE_TYPE;
use windows_sys::Win32::System::Threading::{GetCurrentProcess, OpenProcessToken};

/// The access a private file is opened with: read and write, and the right to set its DACL.
pub const OPEN_ACCESS: u32 = FILE_GENERIC_READ | FILE_GENERIC_WRITE | WRITE_DAC;
/// The access that reads a file's owner and DACL and nothing else.
pub const READ_SECURITY: u32 = READ_CONTROL;

/// The current user's SID, in the token-information buffer that holds it.
struct UserSid {
    buf: Vec<u64>,
}

impl UserSid {
    fn current() -> std::io::Result<UserSid> {
        // SAFETY: the token handle is closed below; the buffer is sized by the first call and 8-byte aligned,
        // as TOKEN_USER needs.
        unsafe {
            let mut token: HANDLE = std::ptr::null_mut();
            if OpenProcessToken(GetCurrentProcess(), TOKEN_QUERY, &mut token) == 0 {
                return Err(std::io::Error::last_os_error());
            }
            let mut len = 0u32;
            GetTokenInformation(token, TokenUser, std::ptr::null_mut(), 0, &mut len);
            let mut buf = vec![0u64; (len as usize).div_ceil(8).max(1)];
            let ok = GetTokenInformation(
                token,
                TokenUser,
                buf.as_mut_ptr().cast(),
                (buf.len() * 8) as u32,
                &mut len,
            );
            let err = std::io::Error::last_os_error();
            CloseHandle(token);
            if ok == 0 {
                return Err(err);
            }
            Ok(UserSid { buf })
        }
    }

    fn sid(&self) -> PSID {
        // SAFETY: `buf` holds the TOKEN_USER GetTokenInformation wrote; its SID points inside `buf`.
        unsafe { (*(self.buf.as_ptr() as *const TOKEN_USER)).User.Sid }
    }
}

/// A security descriptor GetSecurityInfo allocated, freed on drop.
struct Descriptor(PSECURITY_DESCRIPTOR);

impl Drop for Descriptor {
    fn drop(&mut self) {
        // SAFETY: allocated by GetSecurityInfo (LocalAlloc), freed once.
        unsafe {
            LocalFree(self.0);
        }
    }
}

fn handle(f: &File) -> HANDLE {
    f.as_raw_handle() as HANDLE
}

/// Replaces the file's DACL with one granting the current user alone, not inherited from the folder.
pub fn restrict_to_owner(f: &File) -> std::io::Result<()> {
    let user = UserSid::current()?;
    // SAFETY: the ACL buffer is u32-aligned and sized for the header and one ACE holding the SID.
    unsafe {
        let sid_len = GetLengthSid(user.sid());
        let size = std::mem::size_of::<ACL>() + std::mem::size_of::<ACCESS_ALLOWED_ACE>()
            - std::mem::size_of::<u32>()
            + sid_len as usize;
        let mut buf = vec![0u32; size.div_ceil(4)];
        let acl = buf.as_mut_ptr() as *mut ACL;
        if InitializeAcl(acl, (buf.len() * 4) as u32, ACL_REVISION) == 0
            || AddAccessAllowedAce(acl, ACL_REVISION, FILE_ALL_ACCESS, user.sid()) == 0
        {
            return Err(std::io::Error::last_os_error());
        }
        let rc = SetSecurityInfo(
            handle(f),
            SE_FILE_OBJECT,
            DACL_SECURITY_INFORMATION | PROTECTED_DACL_SECURITY_INFORMATION,
            std::ptr::null_mut(),
            std::ptr::null_mut(),
            acl,
            std::ptr::null(),
        );
        if rc != ERROR_SUCCESS {
            return Err(std::io::Error::from_raw_os_error(rc as i32));
        }
    }
    Ok(())
}

/// Whether the file's DACL is protected and every entry in it grants the current user (and there is one):
/// the read-back of [`restrict_to_owner`], as the unix code reads back the mode.
pub fn is_owner_only(f: &File) -> std::io::Result<bool> {
    let user = UserSid::current()?;
    // SAFETY: the DACL points into the descriptor, which lives until the end of this block.
    unsafe {
        let mut dacl: *mut ACL = std::ptr::null_mut();
        let mut sd: PSECURITY_DESCRIPTOR = std::ptr::null_mut();
        let rc = GetSecurityInfo(
            handle(f),
            SE_FILE_OBJECT,
            DACL_SECURITY_INFORMATION,
            std::ptr::null_mut(),
            std::ptr::null_mut(),
            &mut dacl,
            std::ptr::null_mut(),
            &mut sd,
        );
        if rc != ERROR_SUCCESS {
            return Err(std::io::Error::from_raw_os_error(rc as i32));
        }
        let sd = Descriptor(sd);
        let (mut control, mut revision) = (0u16, 0u32);
        if GetSecurityDescriptorControl(sd.0, &mut control, &mut revision) == 0 {
            return Err(std::io::Error::last_os_error());
        }
        // A null DACL grants everyone everything; an unprotected one takes entries from the folder.
        if dacl.is_null() || control & SE_DACL_PROTECTED == 0 || (*dacl).AceCount == 0 {
            return Ok(false);
        }
        for i in 0..u32::from((*dacl).AceCount) {
            let mut ace: *mut core::ffi::c_void = std::ptr::null_mut();
            if GetAce(dacl, i, &mut ace) == 0 {
                return Err(std::io::Error::last_os_error());
            }
            let ace = ace as *const ACCESS_ALLOWED_ACE;
            if u32::from((*ace).Header.AceType) != ACCESS_ALLOWED_ACE_TYPE {
                return Ok(false);
            }
            let sid = std::ptr::addr_of!((*ace).SidStart) as PSID;
            if EqualSid(sid, user.sid()) == 0 {
                return Ok(false);
            }
        }
        Ok(true)
    }
}

/// Whether two open files have the same owner. An elevated process's new files belong to Administrators, not
/// to the user, so the comparison is with a file this process just made, as the unix code compares uids.
pub fn same_owner(a: &File, b: &File) -> std::io::Result<bool> {
    let (sa, _da) = owner(a)?;
    let (sb, _db) = owner(b)?;
    // SAFETY: both SIDs are valid while their descriptors live.
    Ok(unsafe { EqualSid(sa, sb) } != 0)
}

/// The file's owner SID and the descriptor that holds it.
fn owner(f: &File) -> std::io::Result<(PSID, Descriptor)> {
    // SAFETY: the owner SID points into the descriptor returned beside it.
    unsafe {
        let mut sid: PSID = std::ptr::null_mut();
        let mut sd: PSECURITY_DESCRIPTOR = std::ptr::null_mut();
        let rc = GetSecurityInfo(
            handle(f),
            SE_FILE_OBJECT,
            OWNER_SECURITY_INFORMATION,
            &mut sid,
            std::ptr::null_mut(),
            std::ptr::null_mut(),
            std::ptr::null_mut(),
            &mut sd,
        );
        if rc != ERROR_SUCCESS {
            return Err(std::io::Error::from_raw_os_error(rc as i32));
        }
        Ok((sid, Descriptor(sd)))
    }
}
