"""Device passwords: encrypted with KMS before they are stored, never returned or logged."""
from chalicelib import aws
from chalicelib.config import get_settings

# Binds each ciphertext to its purpose: a blob copied into another context will not decrypt.
_CONTEXT = {"purpose": "device-password"}


def encrypt_password(password: str) -> bytes:
    response = aws.client("kms").encrypt(KeyId=get_settings().kms_key_id, Plaintext=password.encode(),
                                         EncryptionContext=_CONTEXT)
    return response["CiphertextBlob"]


def decrypt_password(ciphertext: bytes) -> str:
    """For the agent that logs in to the device (operations); never for a response."""
    response = aws.client("kms").decrypt(CiphertextBlob=bytes(ciphertext), EncryptionContext=_CONTEXT)
    return response["Plaintext"].decode()
