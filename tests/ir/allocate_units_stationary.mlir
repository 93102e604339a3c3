// RUN: rducc opt %s -p 'rdu-target{chip=small},rdu-fuse,rdu-lower,rdu-plan-memory,rdu-allocate-units' | filecheck %s --check-prefix=ALLOC
// RUN: rducc opt %s -p 'rdu-target{chip=small},rdu-fuse,rdu-lower,rdu-plan-memory,rdu-allocate-units,rdu-size-fifos,rdu-tile' | filecheck %s
// A matmul whose operands overflow their buffers holds A (2x, 1 MB) in row blocks and re-reads
// the 2 MB weight from HBM once per block (`passes/tile.py`, `matmul_reread`). `balance` gives
// A's buffer the 2 PMUs its bandwidth earns (9 passes); the output's buffer, which streams 8 MB at
// a fraction of the kernel's pace, got 15. rdu-allocate-units moves PMUs from stages with slack
// to the stationary operand's buffer while each saves re-read bytes (`grow_stationary`): A's
// buffer gets 6 (3 passes), the output's keeps 11.

func.func @forward(%x: tensor<1024x256xf32>, %w: tensor<2048x256xf32>) -> tensor<1024x2048xf32> {
  %0 = rgraph.full {value = 2.000000e+00 : f64} : tensor<f32>
  %1 = rgraph.mul %x, %0 : (tensor<1024x256xf32>, tensor<f32>) -> tensor<1024x256xf32>
  %2 = rgraph.linear %1, %w : (tensor<1024x256xf32>, tensor<2048x256xf32>) -> tensor<1024x2048xf32>
  func.return %2 : tensor<1024x2048xf32>
}

// ALLOC: %[[A:[0-9]+]] = rdu.compute "mul"
// ALLOC: rdu.buffer %[[A]] {units = 6 : i64,
// ALLOC: %[[Y:[0-9]+]] = rdu.compute "linear"
// ALLOC: rdu.buffer %[[Y]] {units = 11 : i64,

// CHECK: rdu.load {{.*}}passes 3>
// CHECK: rdu.compute "linear"({{.*}}restream "b", passes 3>
