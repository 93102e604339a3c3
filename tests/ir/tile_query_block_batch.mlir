// RUN: rducc opt %s -p 'rdu-target{chip=small},rdu-fuse,rdu-lower,rdu-plan-memory,rdu-allocate-units{tile-bytes=256},rdu-size-fifos,rdu-tile' | filecheck %s
// RUN: rducc opt %s -p 'rdu-target{chip=small},rdu-fuse,rdu-lower,rdu-plan-memory,rdu-allocate-units{tile-bytes=256},rdu-size-fifos,rdu-tile' | rducc opt | filecheck %s
// Attention's output transpose streams at batch 2 (passes/row_order.py, QueryBlock): batch 2, 2
// heads of 16 positions x 16. Both matmuls run query-block outer with the batch as an outer loop,
// order "o2,m,b,n,k": every block of batch entry 0's heads, then batch entry 1's. The transpose
// [B,H,S,D] -> [B,S,H,D] then fills windows of MT x 2 output rows of one batch entry, order
// "rows@0,2/MT,1,2" (dim 0, the batch, outermost; then dim 2, the positions, in blocks of MT;
// within a block, head then position), two windows of SRAM instead of the whole value.

func.func @forward(%q: tensor<2x2x16x16xf32>, %kt: tensor<2x2x16x16xf32>, %v: tensor<2x2x16x16xf32>) -> tensor<2x16x32xf32> {
  %0 = rgraph.matmul %q, %kt : (tensor<2x2x16x16xf32>, tensor<2x2x16x16xf32>) -> tensor<2x2x16x16xf32>
  %1 = rgraph.softmax %0 {dim = 3 : i64} : tensor<2x2x16x16xf32> -> tensor<2x2x16x16xf32>
  %2 = rgraph.matmul %1, %v : (tensor<2x2x16x16xf32>, tensor<2x2x16x16xf32>) -> tensor<2x2x16x16xf32>
  %3 = rgraph.permute %2 {dims = array<i64: 0, 2, 1, 3>} : tensor<2x2x16x16xf32> -> tensor<2x16x2x16xf32>
  %4 = rgraph.reshape %3 : tensor<2x16x2x16xf32> -> tensor<2x16x32xf32>
  func.return %4 : tensor<2x16x32xf32>
}

// CHECK: rdu.compute "matmul"({{.*}}tile_loop = #rdu.tile_loop<matmul, grid [4, [[MB:[0-9]+]], {{[0-9]+}}, {{[0-9]+}}], tile {{\[}}[[MT:[0-9]+]], {{[0-9]+}}, {{[0-9]+}}], order "o2,m,b,n,k", reduce "k-accumulate", reuse "a">
// CHECK: rdu.compute "softmax"
// CHECK: rdu.compute "matmul"({{.*}}tile_loop = #rdu.tile_loop<matmul, grid [4, [[MB]], {{[0-9]+}}, {{[0-9]+}}], tile {{\[}}[[MT]], {{[0-9]+}}, {{[0-9]+}}], order "o2,m,b,n,k", reduce "k-accumulate", reuse "a">
// CHECK: rdu.compute "permute"({{.*}}tile_loop = #rdu.tile_loop<rows, grid [{{[0-9]+}}, 1], tile [{{[0-9]+}}, 16], order "rows@0,2/[[MT]],1,2", reduce "none", reuse "">, sram = #rdu.sram<base 0, bytes {{[0-9]+}}, slots 2, tile {{[0-9]+}}>
