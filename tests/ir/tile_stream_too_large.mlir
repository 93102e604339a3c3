// RUN: (rducc opt %s -p 'rdu-target{chip=small},rdu-lower,rdu-plan-memory,rdu-allocate-units{tile-bytes=40000},rdu-size-fifos,rdu-tile' 2>&1; test $? -eq 2) | filecheck %s
// A PMU stage that passes tiles through (a reshape) double-buffers them: two forced 40,000-byte
// tiles do not fit the small chip's 64 KB PMU, and rdu-tile names the stage (was: accepted, and
// only the simulator's per-PMU SRAM sum refused the bitstream, naming a PMU).

func.func @forward(%x: tensor<64x256xf32>) -> tensor<16384xf32> {
  %0 = rgraph.reshape %x {shape = array<i64: 16384>} : tensor<64x256xf32> -> tensor<16384xf32>
  func.return %0 : tensor<16384xf32>
}

// CHECK: error: rdu-tile: reshape stage in kernel k0_reshape holds two 40000-byte tiles on each of its 8 PMU(s), 80000 bytes per PMU, but a PMU of chip 'small' has 65536 bytes of SRAM
// CHECK-NOT: Traceback
