// RUN: rducc opt %s -p 'rdu-target{chip=small},rdu-fuse,rdu-lower,rdu-plan-memory,rdu-allocate-units,rdu-size-fifos' | filecheck %s
// RUN: (rducc opt %s -p 'rdu-target{chip=small},rdu-fuse,rdu-lower,rdu-plan-memory,rdu-allocate-units,rdu-size-fifos{spill=false}' 2>&1; test $? -eq 2) | filecheck %s --check-prefix=DIAG
// A residual around attention run query-block outer: y = 2x reaches the add directly and through
// q = y·Wq, whose heads Q·Kᵀ holds resident (passes/row_order.py, QueryBlock): its first step
// waits for every tile of Q, so for every tile of y (the event timing's `held_operands`). The
// long path lags y's whole value (27 tiles), not the few tiles its tile counts alone give, so the
// short path must hold all of y, 128 KB, more than the small chip's PMUs leave: the kernel is
// split at the add (the branch through HBM, passes/spill.py), or, without spilling, the cycle is
// named through the matmul. Sized from tile counts alone, y's buffer held 13 of its 27 tiles and
// the simulator deadlocked.
func.func @forward(%x: tensor<1x512x64xf32>, %kt: tensor<1x4x16x512xf32>, %v: tensor<1x4x512x16xf32>, %wq: tensor<64x64xf32>, %wo: tensor<64x64xf32>) -> tensor<1x512x64xf32> {
  %2 = rgraph.full {value = 2.000000e+00 : f64} : tensor<f32>
  %3 = rgraph.mul %x, %2 : (tensor<1x512x64xf32>, tensor<f32>) -> tensor<1x512x64xf32>
  %4 = rgraph.linear %3, %wq : (tensor<1x512x64xf32>, tensor<64x64xf32>) -> tensor<1x512x64xf32>
  %5 = rgraph.reshape %4 : tensor<1x512x64xf32> -> tensor<1x512x4x16xf32>
  %6 = rgraph.permute %5 {dims = array<i64: 0, 2, 1, 3>} : tensor<1x512x4x16xf32> -> tensor<1x4x512x16xf32>
  %7 = rgraph.reshape %6 : tensor<1x4x512x16xf32> -> tensor<4x512x16xf32>
  %8 = rgraph.reshape %kt : tensor<1x4x16x512xf32> -> tensor<4x16x512xf32>
  %9 = rgraph.matmul %7, %8 : (tensor<4x512x16xf32>, tensor<4x16x512xf32>) -> tensor<4x512x512xf32>
  %10 = rgraph.reshape %9 : tensor<4x512x512xf32> -> tensor<1x4x512x512xf32>
  %11 = rgraph.softmax %10 {dim = -1 : i64} : tensor<1x4x512x512xf32> -> tensor<1x4x512x512xf32>
  %12 = rgraph.reshape %11 : tensor<1x4x512x512xf32> -> tensor<4x512x512xf32>
  %13 = rgraph.reshape %v : tensor<1x4x512x16xf32> -> tensor<4x512x16xf32>
  %14 = rgraph.matmul %12, %13 : (tensor<4x512x512xf32>, tensor<4x512x16xf32>) -> tensor<4x512x16xf32>
  %15 = rgraph.reshape %14 : tensor<4x512x16xf32> -> tensor<1x4x512x16xf32>
  %16 = rgraph.permute %15 {dims = array<i64: 0, 2, 1, 3>} : tensor<1x4x512x16xf32> -> tensor<1x512x4x16xf32>
  %17 = rgraph.reshape %16 : tensor<1x512x4x16xf32> -> tensor<1x512x64xf32>
  %18 = rgraph.linear %17, %wo : (tensor<1x512x64xf32>, tensor<64x64xf32>) -> tensor<1x512x64xf32>
  %19 = rgraph.add %3, %18 : (tensor<1x512x64xf32>, tensor<1x512x64xf32>) -> tensor<1x512x64xf32>
  func.return %19 : tensor<1x512x64xf32>
}

// CHECK: rdu.kernel "[[K:[a-z0-9_]+]]"
// CHECK-NOT: rdu.compute "add"
// CHECK: rdu.kernel "[[K]].part1"
// CHECK: rdu.compute "add"

// DIAG: error: rdu-size-fifos: deadlock cycle in kernel {{\w+}}: {{\S+}}/buffer reaches {{\S+}}/add through {{\S+}}/matmul (the long path takes 26 more tiles of output 0 of {{\S+}}/buffer before the join sees a tile) and through stream output 0 of {{\S+}}/buffer, whose FIFO needs 27 tiles x 4870 bytes
