package main

import (
	"syscall"
	"unsafe"
)

// perfEventsAvailable reports whether this process may count its own
// user-space instructions with perf_event_open(2), the probe C's
// perf_counters_init makes at startup (a hardware instructions counter,
// disabled, kernel and hypervisor excluded, this process on any CPU).
func perfEventsAvailable() bool {
	// struct perf_event_attr, PERF_ATTR_SIZE_VER0 (64 bytes) is enough
	// for the fields used: type, size, config and the flag bits.
	var attr [64]byte
	const (
		perfTypeHardware         = 0
		perfCountHWInstructions  = 1
		flagDisabled             = 1 << 0
		flagExcludeKernel        = 1 << 5
		flagExcludeHV            = 1 << 6
		offType, offSize, offCfg = 0, 4, 8
		offFlags                 = 40
	)
	*(*uint32)(unsafe.Pointer(&attr[offType])) = perfTypeHardware
	*(*uint32)(unsafe.Pointer(&attr[offSize])) = uint32(len(attr))
	*(*uint64)(unsafe.Pointer(&attr[offCfg])) = perfCountHWInstructions
	*(*uint64)(unsafe.Pointer(&attr[offFlags])) = flagDisabled | flagExcludeKernel | flagExcludeHV
	pid, cpu, group := 0, -1, -1
	fd, _, errno := syscall.Syscall6(syscall.SYS_PERF_EVENT_OPEN, uintptr(unsafe.Pointer(&attr[0])),
		uintptr(pid), uintptr(cpu), uintptr(group), 0, 0)
	if errno != 0 || int(fd) < 0 {
		return false
	}
	_ = syscall.Close(int(fd))
	return true
}
