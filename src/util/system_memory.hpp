// How much memory the system could give this process now, for choices that trade memory for speed.
#pragma once
#include <cstdint>

namespace sq {

// MemAvailable from /proc/meminfo (memory obtainable without swapping, page cache included), else the free
// physical pages sysconf reports; 0 when neither can be read.
uint64_t available_host_memory();

}  // namespace sq
