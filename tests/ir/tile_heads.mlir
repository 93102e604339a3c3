// RUN: rducc opt %s -p 'rdu-target{chip=small},rdu-fuse,rdu-lower,rdu-plan-memory,rdu-allocate-units{tile-bytes=256},rdu-size-fifos,rdu-tile' | filecheck %s
// RUN: rducc opt %s -p 'rdu-target{chip=small},rdu-fuse,rdu-lower,rdu-plan-memory,rdu-allocate-units{tile-bytes=256},rdu-size-fifos,rdu-tile' | rducc opt | filecheck %s
// A heads transpose (passes/row_order.py): the projection's 64 outputs are 4 heads of 16 (one
// small-chip vector), viewed as heads and transposed keeping the last axis. rdu-tile tiles the
// projection head-outer (order "b,n,m,k", nt = 16, B held: reuse "b") so it sends head 0's rows
// for all 8 positions, then head 1's; the permute then streams rows of its output (order
// "rows@1,0": its input's dim 1, the heads, arrives outermost) and double-buffers 4x16-float tiles in
// SRAM instead of holding the value. The transpose of the last two axes still cannot stream.

func.func @forward(%x: tensor<8x64xf32>, %w: tensor<64x64xf32>) -> (tensor<4x8x16xf32>, tensor<16x8xf32>) {
  %0 = rgraph.linear %x, %w : (tensor<8x64xf32>, tensor<64x64xf32>) -> tensor<8x64xf32>
  %1 = rgraph.reshape %0 : tensor<8x64xf32> -> tensor<8x4x16xf32>
  %2 = rgraph.permute %1 {dims = array<i64: 1, 0, 2>} : tensor<8x4x16xf32> -> tensor<4x8x16xf32>
  %3 = rgraph.slice %x {dim = 1 : i64, start = 0 : i64, end = 16 : i64, step = 1 : i64} : tensor<8x64xf32> -> tensor<8x16xf32>
  %4 = rgraph.permute %3 {dims = array<i64: 1, 0>} : tensor<8x16xf32> -> tensor<16x8xf32>
  func.return %2, %4 : tensor<4x8x16xf32>, tensor<16x8xf32>
}

// CHECK: rdu.compute "linear"({{.*}}tile_loop = #rdu.tile_loop<matmul, grid [1, 2, 4, 1], tile [4, 16, 64], order "b,n,m,k", reduce "k-accumulate", reuse "b">}
// CHECK: rdu.compute "permute"({{.*}}tile_loop = #rdu.tile_loop<rows, grid [{{[0-9]+}}, 1], tile [{{[0-9]+}}, 16], order "rows@1,0", reduce "none", reuse "">, sram = #rdu.sram<base 0, bytes {{[0-9]+}}, slots 2, tile {{[0-9]+}}>}
// CHECK-DAG: rdu.compute "slice"({{.*}}tile_loop = #rdu.tile_loop<rows, grid [{{[0-9]+}}, 1], tile [{{[0-9]+}}, 16], order "rows"
// CHECK-DAG: rdu.compute "permute"({{.*}}tile_loop = #rdu.tile_loop<whole, grid [1], tile [16, 8], order "whole"
