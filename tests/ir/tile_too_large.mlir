// RUN: (rducc opt %s -p 'rdu-tile' 2>&1; test $? -eq 2) | filecheck %s
// A buffer whose credits, spread over its PMUs, need more SRAM than a PMU holds is named.

builtin.module attributes {rdu.target = #rdu.target<"small">} {
  %0 = rdu.tensor "x" {role = #rdu.role<input>, tier = #rdu.tier<hbm>, index = 0 : i64, offset = 0 : i64} : !rdu.mem<65536xf32>
  rdu.kernel "k0" {
    %1 = rdu.load %0 {units = 1 : i64, tiles = array<i64: 16384>, depths = array<i64: 2>} : !rdu.mem<65536xf32> -> !rdu.stream<65536xf32>
    %2 = rdu.buffer %1 {units = 1 : i64, bytes = 32768 : i64, tile_bytes = 16384 : i64, tiles = array<i64: 16384>, depths = array<i64: 16>} : !rdu.stream<65536xf32>
  }
}

// CHECK: error: rdu-tile: buffer stage in kernel k0 rings 16 tile(s) of 16384 bytes on each of its 1 PMU(s), 262144 bytes per PMU, but a PMU of chip 'small' has 65536 bytes of SRAM
