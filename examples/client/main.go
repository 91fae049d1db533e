// Command client prints when a schedule is busy in the next seven days,
// through the broker's typed Go client (package client, standard library
// only):
//
//	BROKER_URL=http://127.0.0.1:8080 BROKER_CLIENT_SECRET=… go run ./examples/client demo-schedule
package main

import (
	"context"
	"fmt"
	"log"
	"os"
	"time"

	"github.com/oauthbroker/broker/client"
)

func main() {
	if len(os.Args) != 2 {
		log.Fatal("usage: client SCHEDULE_ID (with BROKER_URL and BROKER_CLIENT_SECRET set)")
	}
	cl, err := client.New(os.Getenv("BROKER_URL"), os.Getenv("BROKER_CLIENT_SECRET"))
	if err != nil {
		log.Fatal(err)
	}
	from := time.Now().Truncate(time.Hour)
	fb, err := cl.FreeBusy(context.Background(), client.FreeBusyQuery{
		ScheduleIDs: []string{os.Args[1]}, From: from, To: from.AddDate(0, 0, 7), TimeZone: "UTC"})
	if err != nil {
		log.Fatal(err)
	}
	for _, b := range fb.Busy {
		fmt.Printf("busy %s – %s\n", b.Start.Format("Mon 02 Jan 15:04"), b.End.Format("Mon 02 Jan 15:04 MST"))
	}
}
