// RUN: rducc opt %s -p 'rdu-target{chip=small},rdu-fuse,rdu-lower,rdu-plan-memory,rdu-allocate-units' | filecheck %s
// A buffer that holds its whole value loaded from memory balances its tile at the larger
// per-tile overhead of its stream's two ends (passes/allocate_units.py, `memory_stream_overhead`):
// the AGCU's DMA descriptor costs 8 cycles a tile on the small chip, the PMU 4. %x's buffer holds
// its 4,096 bytes in one PMU: sqrt(4,096 x 8 x 64 bytes per cycle) = 1,448 bytes (1,024 at the
// PMU's overhead alone). %w's 22 PMUs hold 1.4 of its 4 MB: it streams at its reader's pace and
// keeps the PMU's overhead, sqrt(190,651 x 4 x 64) = 6,986. A
// buffer fed by a compute stage keeps the PMU's overhead too.

func.func @forward(%x: tensor<1x1024xf32>, %w: tensor<1024x1024xf32>) -> tensor<1x1024xf32> {
  %y = rgraph.linear %x, %w : (tensor<1x1024xf32>, tensor<1024x1024xf32>) -> tensor<1x1024xf32>
  func.return %y : tensor<1x1024xf32>
}

// CHECK: %[[X:[0-9]+]] = rdu.load %0 {units = 1 : i64, tiles = array<i64: 1448>
// CHECK-NEXT: rdu.buffer %[[X]] {units = 1 : i64, bytes = 2896 : i64, tile_bytes = 1448 : i64
// CHECK-NEXT: %[[W:[0-9]+]] = rdu.load %1 {units = 2 : i64, tiles = array<i64: 6986>
// CHECK-NEXT: rdu.buffer %[[W]] {units = 22 : i64, bytes = 13972 : i64, tile_bytes = 6986 : i64
// CHECK: rdu.compute "linear"
// CHECK-NEXT: rdu.buffer %{{[0-9]+}} {units = 1 : i64, bytes = 256 : i64, tile_bytes = 128 : i64
