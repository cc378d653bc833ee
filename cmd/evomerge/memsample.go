package main

import (
	"bufio"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"time"
)

// The memory figures of merge --mem.

// memPeak holds the highest memory figures a memSampler saw.
type memPeak struct {
	heapInUse, heapSys, rssAnon, vmHWM int64
}

// memSampler polls the Go heap and the process's anonymous resident memory
// (which excludes memory-mapped file pages such as the inputs) until stopped.
type memSampler struct {
	done chan struct{}
	wg   sync.WaitGroup
	mu   sync.Mutex
	peak memPeak
}

func startMemSampler(every time.Duration) *memSampler {
	s := &memSampler{done: make(chan struct{})}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			s.sample()
			select {
			case <-s.done:
				return
			case <-t.C:
			}
		}
	}()
	return s
}

func (s *memSampler) sample() {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	anon, hwm := procStatus()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.peak.heapInUse = max(s.peak.heapInUse, int64(ms.HeapInuse))
	s.peak.heapSys = max(s.peak.heapSys, int64(ms.HeapSys))
	s.peak.rssAnon = max(s.peak.rssAnon, anon)
	s.peak.vmHWM = max(s.peak.vmHWM, hwm)
}

func (s *memSampler) stop() memPeak {
	close(s.done)
	s.wg.Wait()
	s.sample()
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.peak
}

// procStatus reads RssAnon and VmHWM from /proc/self/status (Linux); both
// are 0 elsewhere.
func procStatus() (rssAnon, vmHWM int64) {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return 0, 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		key, val, ok := strings.Cut(sc.Text(), ":")
		if !ok || (key != "RssAnon" && key != "VmHWM") {
			continue
		}
		fields := strings.Fields(val)
		if len(fields) == 0 {
			continue
		}
		kb, err := strconv.ParseInt(fields[0], 10, 64)
		if err != nil {
			continue
		}
		if key == "RssAnon" {
			rssAnon = kb << 10
		} else {
			vmHWM = kb << 10
		}
	}
	return rssAnon, vmHWM
}
