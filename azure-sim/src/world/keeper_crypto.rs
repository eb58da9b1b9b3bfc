//! The server side of Keeper Secrets Manager's crypto, written apart from Keeper's SDK so that the fake backend
//! checks interop: AES-256-GCM, ECIES (P-256 ECDH + SHA-256 + AES-GCM), ECDSA P-256 verification, KSM's base64s.
//!
//! Source: Keeper's "Secrets Manager Security and Encryption Model" (docs.keeper.io) and the Rust SDK
//! keeper-secrets-manager-core 17.3.0 (crypto.rs, core.rs), as read for docs/design/keeper-vault/NOTES.md §2.

use aes_gcm::aead::Aead;
use aes_gcm::{Aes256Gcm, KeyInit, Nonce};
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine as _;
use hmac::{Hmac, Mac};
use p256::ecdsa::signature::Verifier;
use p256::elliptic_curve::sec1::ToEncodedPoint;
use rand::RngCore;
use sha2::{Digest, Sha256, Sha512};

/// An AES-256 key (application, record, transmission).
pub type Key = [u8; 32];

pub fn random_key() -> Key {
    let mut k = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut k);
    k
}

/// nonce(12) ‖ ciphertext ‖ tag(16): the layout every KSM SDK uses.
pub fn gcm_encrypt(key: &Key, plain: &[u8]) -> Vec<u8> {
    let cipher = Aes256Gcm::new(key.into());
    let mut nonce = [0u8; 12];
    rand::rngs::OsRng.fill_bytes(&mut nonce);
    // Encrypting into a Vec fails only past GCM's length limit (64 GiB), far beyond any KSM payload.
    let ct = cipher
        .encrypt(Nonce::from_slice(&nonce), plain)
        .unwrap_or_default();
    [nonce.to_vec(), ct].concat()
}

pub fn gcm_decrypt(key: &[u8], data: &[u8]) -> Result<Vec<u8>, String> {
    if data.len() < 12 + 16 {
        return Err("gcm: too short".into());
    }
    let cipher = Aes256Gcm::new_from_slice(key).map_err(|e| e.to_string())?;
    cipher
        .decrypt(Nonce::from_slice(&data[..12]), &data[12..])
        .map_err(|_| "gcm: authentication failed".to_string())
}

/// iv(16) ‖ AES-256-CBC(PKCS#7(plain)): only a shared folder's `data` (its name) uses it.
pub fn cbc_encrypt(key: &Key, plain: &[u8]) -> Vec<u8> {
    use aes::cipher::{BlockEncrypt, KeyInit as _};
    let cipher = aes::Aes256::new(key.into());
    let pad = 16 - plain.len() % 16;
    let mut buf = plain.to_vec();
    buf.extend(std::iter::repeat_n(pad as u8, pad));
    let mut iv = [0u8; 16];
    rand::rngs::OsRng.fill_bytes(&mut iv);
    let mut out = iv.to_vec();
    let mut prev = iv;
    for chunk in buf.chunks(16) {
        let mut block = aes::Block::default();
        for (i, b) in block.iter_mut().enumerate() {
            *b = chunk[i] ^ prev[i];
        }
        cipher.encrypt_block(&mut block);
        prev.copy_from_slice(&block);
        out.extend_from_slice(&prev);
    }
    out
}

/// ECIES as the SDK's `public_encrypt` makes it: ephemeral SEC1 point ‖ GCM(sha256(ecdh x), plain).
pub fn ecies_decrypt(secret: &p256::SecretKey, data: &[u8]) -> Result<Vec<u8>, String> {
    let plen = match data.first() {
        Some(0x04) => 65,
        Some(0x02 | 0x03) => 33,
        _ => return Err("ecies: no ephemeral point".into()),
    };
    if data.len() < plen {
        return Err("ecies: too short".into());
    }
    let eph = p256::PublicKey::from_sec1_bytes(&data[..plen]).map_err(|e| e.to_string())?;
    let shared = p256::ecdh::diffie_hellman(secret.to_nonzero_scalar(), eph.as_affine());
    let key = Sha256::digest(shared.raw_secret_bytes());
    gcm_decrypt(&key, &data[plen..])
}

/// A public key as uncompressed SEC1 bytes.
pub fn public_sec1(secret: &p256::SecretKey) -> Vec<u8> {
    secret
        .public_key()
        .to_encoded_point(false)
        .as_bytes()
        .to_vec()
}

/// The server's check of `Authorization: Signature …`: ECDSA-P256-SHA256 (DER) over
/// `encrypted transmission key ‖ encrypted payload`, with the client's registered public key.
pub fn verify_signature(client_public: &[u8], message: &[u8], der_sig: &[u8]) -> bool {
    let Ok(vk) = p256::ecdsa::VerifyingKey::from_sec1_bytes(client_public) else {
        return false;
    };
    let Ok(sig) = p256::ecdsa::Signature::from_der(der_sig) else {
        return false;
    };
    vk.verify(message, &sig).is_ok()
}

/// clientId = base64(HMAC-SHA512(key = one-time token bytes, "KEEPER_SECRETS_MANAGER_CLIENT_ID")).
pub fn client_id_for(client_key: &[u8]) -> String {
    let mut mac = <Hmac<Sha512> as Mac>::new_from_slice(client_key)
        .unwrap_or_else(|_| <Hmac<Sha512> as Mac>::new(&Default::default()));
    mac.update(b"KEEPER_SECRETS_MANAGER_CLIENT_ID");
    STANDARD.encode(mac.finalize().into_bytes())
}

pub fn b64(bytes: &[u8]) -> String {
    STANDARD.encode(bytes)
}

pub fn b64url(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// KSM mixes the standard and url-safe alphabets, padded and not: accept all of them.
pub fn b64_any(s: &str) -> Result<Vec<u8>, String> {
    let t: String = s
        .trim()
        .trim_end_matches('=')
        .chars()
        .map(|c| match c {
            '+' => '-',
            '/' => '_',
            c => c,
        })
        .collect();
    URL_SAFE_NO_PAD.decode(t).map_err(|e| e.to_string())
}
