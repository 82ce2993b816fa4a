// Command hello is built by the tests against pinned old module versions.
package main

import (
	"fmt"

	"github.com/pkg/errors"
	"rsc.io/quote"
)

func main() {
	fmt.Println(quote.Hello(), errors.New("x"))
}
