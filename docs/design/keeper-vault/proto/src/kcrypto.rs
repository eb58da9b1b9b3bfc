//! The server side of Keeper Secrets Manager's crypto, written independently of the SDK's
//! own helpers so the fake proves interop: AES-256-GCM, AES-256-CBC (folder data), ECIES
//! (P-256 ECDH + SHA-256 + AES-GCM), ECDSA P-256 verification, and KSM's base64 flavours.

use aes::cipher::BlockEncrypt;
use aes_gcm::aead::Aead;
use aes_gcm::{Aes256Gcm, KeyInit, Nonce};
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use hmac::{Hmac, Mac};
use p256::ecdsa::signature::Verifier;
use p256::elliptic_curve::sec1::ToEncodedPoint;
use rand::RngCore;
use sha2::{Digest, Sha256, Sha512};

pub type Key = [u8; 32];

pub fn random_key() -> Key {
    let mut k = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut k);
    k
}

/// nonce(12) || ciphertext || tag(16) — the layout every KSM SDK uses.
pub fn gcm_encrypt(key: &[u8], plain: &[u8]) -> Vec<u8> {
    let cipher = Aes256Gcm::new_from_slice(key).expect("32-byte key");
    let mut nonce = [0u8; 12];
    rand::rngs::OsRng.fill_bytes(&mut nonce);
    let ct = cipher.encrypt(Nonce::from_slice(&nonce), plain).expect("gcm encrypt");
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

/// iv(16) || AES-256-CBC(PKCS#7(plain)) — used only for shared-folder `data` (the name).
pub fn cbc_encrypt(key: &[u8], plain: &[u8]) -> Vec<u8> {
    let cipher = aes::Aes256::new_from_slice(key).expect("32-byte key");
    let pad = 16 - plain.len() % 16;
    let mut buf = plain.to_vec();
    buf.extend(std::iter::repeat_n(pad as u8, pad));
    let mut iv = [0u8; 16];
    rand::rngs::OsRng.fill_bytes(&mut iv);
    let mut out = iv.to_vec();
    let mut prev = iv;
    for chunk in buf.chunks(16) {
        let mut block = [0u8; 16];
        for i in 0..16 {
            block[i] = chunk[i] ^ prev[i];
        }
        let mut ga = aes::Block::clone_from_slice(&block);
        cipher.encrypt_block(&mut ga);
        prev.copy_from_slice(&ga);
        out.extend_from_slice(&prev);
    }
    out
}

/// ECIES as the SDK's `public_encrypt`: ephemeral SEC1 point || GCM(sha256(ecdh_x), plain).
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

pub fn public_sec1(secret: &p256::SecretKey) -> Vec<u8> {
    secret.public_key().to_encoded_point(false).as_bytes().to_vec()
}

/// The server's check of the `Authorization: Signature …` header: ECDSA-P256-SHA256 (DER) over
/// `encrypted transmission key || encrypted payload`, with the client's registered public key.
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
    let mac = <Hmac::<Sha512> as Mac>::new_from_slice(client_key)
        .expect("any key length")
        .chain_update(b"KEEPER_SECRETS_MANAGER_CLIENT_ID")
        .finalize()
        .into_bytes();
    STANDARD.encode(mac)
}

pub fn b64(bytes: &[u8]) -> String {
    STANDARD.encode(bytes)
}

pub fn b64url(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// KSM mixes standard/url-safe alphabets, padded and not: accept all of them.
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
