// RUN: rducc opt %s -p 'rdu-target{chip=small},rdu-lower,rdu-plan-memory,rdu-allocate-units{tile-bytes=256},rdu-size-fifos,rdu-tile' | filecheck %s
// RUN: rducc opt %s -p 'rdu-target{chip=small},rdu-lower,rdu-plan-memory,rdu-allocate-units{tile-bytes=256},rdu-size-fifos,rdu-tile' | rducc opt | filecheck %s
// rdu-tile turns 256-byte tiles (forced here) into tile programs on the small chip (16 lanes,
// 64 KB PMUs). Loads and stores walk their tensor in 256-byte accesses; a buffer rings its
// credits over its PMUs (the weight's buffer prefetches it whole: 64 credits over 2 PMUs, 32 slots each) and writes and reads the ring by
// pattern. The linear is output-stationary 4x16 tiles (256 bytes) with K whole (its A and B slabs
// fit half a PMU); a 256-float row does not fit a 256-byte tile, so softmax and sum run over
// 4 chunks of 64 columns per row, softmax in two passes, sum with a running total. The permute
// cannot stream: one whole tile, its 16 KB input spread over its 2 PMUs, 8 KB each. The printed
// attributes parse back (second RUN line).

func.func @forward(%x: tensor<16x256xf32>, %w: tensor<64x256xf32>) -> (tensor<16x64xf32>, tensor<16x256xf32>, tensor<16x1xf32>, tensor<256x16xf32>) {
  %0 = rgraph.linear %x, %w : (tensor<16x256xf32>, tensor<64x256xf32>) -> tensor<16x64xf32>
  %1 = rgraph.softmax %x {dim = -1 : i64} : tensor<16x256xf32> -> tensor<16x256xf32>
  %2 = rgraph.sum %x {dims = array<i64: 1>, keepdim = true} : tensor<16x256xf32> -> tensor<16x1xf32>
  %3 = rgraph.permute %x {dims = array<i64: 1, 0>} : tensor<16x256xf32> -> tensor<256x16xf32>
  func.return %0, %1, %2, %3 : tensor<16x64xf32>, tensor<16x256xf32>, tensor<16x1xf32>, tensor<256x16xf32>
}

// CHECK-LABEL: rdu.kernel "k0_linear"
// CHECK: rdu.load %0 {{{.*}}tile_loop = #rdu.tile_loop<stream, grid [64], tile [256], order "tiles", reduce "none", reuse "">, patterns = [#rdu.pattern<hbm, offset 65536, stride 256, count 64, tile 256, extent 16384>]}
// CHECK: rdu.buffer %{{.*}} {units = 2 : i64, {{.*}}depths = array<i64: 64>, tile_loop = #rdu.tile_loop<stream, grid [64], tile [256]{{.*}}>, sram = #rdu.sram<base 0, bytes 8192, slots 32, tile 256>, patterns = [#rdu.pattern<sram, offset 0, stride 256, count 32, tile 256, extent 8192>, #rdu.pattern<sram, offset 0, stride 256, count 32, tile 256, extent 8192>]}
// CHECK: rdu.compute "linear"({{.*}}tile_loop = #rdu.tile_loop<matmul, grid [1, 4, 4, 1], tile [4, 16, 256], order "b,m,n,k", reduce "k-accumulate", reuse "a">}
// CHECK: rdu.store %{{.*}} to %2 {{{.*}}patterns = [#rdu.pattern<hbm, offset 81920, stride 256, count 16, tile 256, extent 4096>]}
// CHECK-LABEL: rdu.kernel "k1_softmax"
// CHECK: rdu.compute "softmax"({{.*}}tile_loop = #rdu.tile_loop<rows, grid [16, 4], tile [1, 64], order "rows", reduce "two-pass", reuse "">}
// CHECK-LABEL: rdu.kernel "k2_sum"
// CHECK: rdu.compute "sum"({{.*}}tile_loop = #rdu.tile_loop<rows, grid [16, 4], tile [1, 64], order "rows", reduce "running", reuse "">}
// CHECK-LABEL: rdu.kernel "k3_permute"
// CHECK: rdu.compute "permute"({{.*}}units = 2 : i64, bytes = 8192 : i64, {{.*}}tile_loop = #rdu.tile_loop<whole, grid [1], tile [256, 16], order "whole", reduce "none", reuse "">, sram = #rdu.sram<base 0, bytes 8192, slots 1, tile 8192>}
