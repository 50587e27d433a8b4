package dissemination

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/rabta/rabta/internal/channel"
)

// KeySize is the size of the contacts key, in bytes.
const KeySize = 32

// Sealer encrypts personal data at rest (AES-256-GCM, a random 96-bit nonce per value) and
// derives the lookup keys that find a contact without decrypting (HMAC-SHA256). Both keys are
// derived from one 32-byte contacts key with HKDF-SHA256 (RFC 5869); losing that key loses the
// contacts, so back it up with the database.
type Sealer struct {
	aead   cipher.AEAD
	lookup []byte
}

// NewSealer returns a Sealer for a 32-byte contacts key.
func NewSealer(key []byte) (*Sealer, error) {
	if len(key) != KeySize {
		return nil, fmt.Errorf("contacts key: %d bytes, want %d", len(key), KeySize)
	}
	enc, err := hkdf.Key(sha256.New, key, nil, "rabta contacts: AES-256-GCM", 32)
	if err != nil {
		return nil, err
	}
	look, err := hkdf.Key(sha256.New, key, nil, "rabta contacts: HMAC lookup", 32)
	if err != nil {
		return nil, err
	}
	block, err := aes.NewCipher(enc)
	if err != nil {
		return nil, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	return &Sealer{aead: aead, lookup: look}, nil
}

// LoadOrCreateKey reads the contacts key from path (32 raw bytes), creating it with a random
// key, readable by its owner only, when it does not exist.
func LoadOrCreateKey(path string) ([]byte, error) {
	b, err := os.ReadFile(path)
	if err == nil {
		if len(b) != KeySize {
			return nil, fmt.Errorf("contacts key %s: %d bytes, want %d", path, len(b), KeySize)
		}
		return b, nil
	}
	if !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	key := make([]byte, KeySize)
	rand.Read(key)
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		if errors.Is(err, os.ErrExist) { // another process made it first
			return LoadOrCreateKey(path)
		}
		return nil, err
	}
	if _, err := f.Write(key); err != nil {
		f.Close()
		return nil, err
	}
	return key, f.Close()
}

// Seal encrypts plaintext; the result is nonce ‖ ciphertext ‖ tag.
func (s *Sealer) Seal(plaintext []byte) []byte {
	nonce := make([]byte, s.aead.NonceSize(), s.aead.NonceSize()+len(plaintext)+s.aead.Overhead())
	rand.Read(nonce)
	return s.aead.Seal(nonce, nonce, plaintext, nil)
}

// Open decrypts what Seal made.
func (s *Sealer) Open(sealed []byte) ([]byte, error) {
	n := s.aead.NonceSize()
	if len(sealed) < n+s.aead.Overhead() {
		return nil, errors.New("sealed value too short")
	}
	return s.aead.Open(nil, sealed[:n], sealed[n:], nil)
}

// Lookup is the key that finds a contact by its channel and normalised address.
func (s *Sealer) Lookup(ch channel.Kind, address string) string {
	m := hmac.New(sha256.New, s.lookup)
	m.Write([]byte(ch))
	m.Write([]byte{0})
	m.Write([]byte(address))
	return hex.EncodeToString(m.Sum(nil))
}

// sealedContact is what a contact's sealed column holds.
type sealedContact struct {
	Address string `json:"a"`
	Secret  string `json:"s,omitempty"`
}

// SealContact seals a contact's address and secret.
func (s *Sealer) SealContact(c Contact) []byte {
	b, _ := json.Marshal(sealedContact{Address: c.Address, Secret: c.Secret})
	return s.Seal(b)
}

// OpenContact fills c's address and secret from sealed.
func (s *Sealer) OpenContact(sealed []byte, c *Contact) error {
	b, err := s.Open(sealed)
	if err != nil {
		return fmt.Errorf("contact %d: %w", c.ID, err)
	}
	var sc sealedContact
	if err := json.Unmarshal(b, &sc); err != nil {
		return fmt.Errorf("contact %d: %w", c.ID, err)
	}
	c.Address, c.Secret = sc.Address, sc.Secret
	return nil
}
