// A descriptor sender shaped like runc's SendFd (libcontainer/utils/cmsg.go),
// for InteropIT: the file's name travels as the data payload and the descriptor as one SCM_RIGHTS
// control message. It accepts COUNT TCP connections on 127.0.0.1 (an ephemeral port, printed on
// stdout), sends each over the unix stream socket SOCKET, closes its copies at once and reads
// nothing back. runc uses golang.org/x/sys/unix; the standard library's syscall package has the
// same Sendmsg and UnixRights, and needs nothing downloaded.
//
//	runcsend SOCKET COUNT
package main

import (
	"fmt"
	"log"
	"net"
	"os"
	"strconv"
	"syscall"
)

// MaxNameLen is runc's bound on the name sent with a descriptor.
const MaxNameLen = 4096

// SendFd is runc's, with syscall for unix.
func SendFd(socket *os.File, name string, fd uintptr) error {
	if len(name) >= MaxNameLen {
		return fmt.Errorf("sendfd: filename too long: %s", name)
	}
	oob := syscall.UnixRights(int(fd))
	return syscall.Sendmsg(int(socket.Fd()), []byte(name), oob, nil, 0)
}

func main() {
	if len(os.Args) != 3 {
		log.Fatalf("usage: runcsend SOCKET COUNT")
	}
	count, err := strconv.Atoi(os.Args[2])
	if err != nil {
		log.Fatalf("COUNT: %s", err)
	}
	uds, err := net.DialUnix("unix", nil, &net.UnixAddr{Name: os.Args[1], Net: "unix"})
	if err != nil {
		log.Fatalf("dial %s: %s", os.Args[1], err)
	}
	socket, err := uds.File()
	if err != nil {
		log.Fatalf("File: %s", err)
	}
	listener, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatalf("listen: %s", err)
	}
	fmt.Printf("listening on port %d\n", listener.Addr().(*net.TCPAddr).Port)
	for i := 0; i < count; i++ {
		conn, err := listener.Accept()
		if err != nil {
			log.Fatalf("accept: %s", err)
		}
		file, err := conn.(*net.TCPConn).File()
		if err != nil {
			log.Fatalf("File: %s", err)
		}
		if err := SendFd(socket, file.Name(), file.Fd()); err != nil {
			log.Fatalf("SendFd: %s", err)
		}
		file.Close()
		conn.Close()
		fmt.Printf("sent connection %d as %q\n", i+1, file.Name())
	}
	socket.Close()
	uds.Close()
}
