// Command pstest serves Google's in-memory Pub/Sub server (cloud.google.com/go/pubsub/v2/pstest)
// on a fixed address, so Klaxon's integration tests reach it the way the real client library
// reaches any Pub/Sub emulator: PUBSUB_EMULATOR_HOST=127.0.0.1:8085. State lives in memory only.
package main

import (
	"flag"
	"log"
	"os"
	"os/signal"
	"syscall"

	"cloud.google.com/go/pubsub/v2/pstest"
)

func main() {
	address := flag.String("address", "127.0.0.1:8085", "host:port the gRPC Pub/Sub API listens on")
	flag.Parse()

	// NewServerWithAddress panics when the address is taken; the services script shows that log.
	server := pstest.NewServerWithAddress(*address)
	log.Printf("pstest: Pub/Sub API (gRPC, plaintext) serving on %s", server.Addr)

	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGINT, syscall.SIGTERM)
	<-stop
	if err := server.Close(); err != nil {
		log.Printf("pstest: close: %v", err)
	}
	log.Print("pstest: stopped")
}
