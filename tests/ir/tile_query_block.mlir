// RUN: rducc opt %s -p 'rdu-target{chip=small},rdu-fuse,rdu-lower,rdu-plan-memory,rdu-allocate-units{tile-bytes=256},rdu-size-fifos,rdu-tile' | filecheck %s
// RUN: rducc opt %s -p 'rdu-target{chip=small},rdu-fuse,rdu-lower,rdu-plan-memory,rdu-allocate-units{tile-bytes=256},rdu-size-fifos,rdu-tile' | rducc opt | filecheck %s
// Attention's output transpose streams when attention runs query-block outer (passes/row_order.py,
// QueryBlock): 2 heads of 16 positions x 16. Both matmuls (Q·Kᵀ and softmax·V) are tiled
// "m,b,n,k" with the same block of query rows, A held across its N tiles (reuse "a"), so the
// product sends block 0 of every head before block 1. The transpose [H,S,D] -> [S,H,D] then
// streams by windows: order "rows@1/MT,0,1" (dim 1, the positions, in blocks of MT rows,
// outermost; within a block, head then position), a tile of MT x 2 output rows, two windows
// of SRAM instead of the whole value.

func.func @forward(%q: tensor<2x16x16xf32>, %kt: tensor<2x16x16xf32>, %v: tensor<2x16x16xf32>) -> tensor<16x32xf32> {
  %0 = rgraph.matmul %q, %kt : (tensor<2x16x16xf32>, tensor<2x16x16xf32>) -> tensor<2x16x16xf32>
  %1 = rgraph.softmax %0 {dim = 2 : i64} : tensor<2x16x16xf32> -> tensor<2x16x16xf32>
  %2 = rgraph.matmul %1, %v : (tensor<2x16x16xf32>, tensor<2x16x16xf32>) -> tensor<2x16x16xf32>
  %3 = rgraph.permute %2 {dims = array<i64: 1, 0, 2>} : tensor<2x16x16xf32> -> tensor<16x2x16xf32>
  %4 = rgraph.reshape %3 : tensor<16x2x16xf32> -> tensor<16x32xf32>
  func.return %4 : tensor<16x32xf32>
}

// CHECK: rdu.compute "matmul"({{.*}}tile_loop = #rdu.tile_loop<matmul, grid [2, [[MB:[0-9]+]], {{[0-9]+}}, {{[0-9]+}}], tile {{\[}}[[MT:[0-9]+]], {{[0-9]+}}, {{[0-9]+}}], order "m,b,n,k", reduce "k-accumulate", reuse "a">
// CHECK: rdu.compute "softmax"
// CHECK: rdu.compute "matmul"({{.*}}tile_loop = #rdu.tile_loop<matmul, grid [2, [[MB]], {{[0-9]+}}, {{[0-9]+}}], tile {{\[}}[[MT]], {{[0-9]+}}, {{[0-9]+}}], order "m,b,n,k", reduce "k-accumulate", reuse "a">
// CHECK: rdu.compute "permute"({{.*}}tile_loop = #rdu.tile_loop<rows, grid [[[MB]], 1], tile [{{[0-9]+}}, 16], order "rows@1/[[MT]],0,1", reduce "none", reuse "">, sram = #rdu.sram<base 0, bytes {{[0-9]+}}, slots 2, tile {{[0-9]+}}>
