package simapi

import (
	"crypto/rand"
	"fmt"
	"math/big"
)

// RandomSerial is a certificate serial number: 127 random bits, positive as X.509 requires.
func RandomSerial() (*big.Int, error) {
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return nil, fmt.Errorf("simulator: serial number: %w", err)
	}
	return serial, nil
}
