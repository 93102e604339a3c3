// RUN: rducc opt %s -p 'rdu-target{chip=small},rdu-lower,rdu-plan-memory' | filecheck %s
// Tensors whose lifetimes do not overlap share an address; weights and outputs keep theirs.

func.func @forward(%x: tensor<1024xf32>) -> tensor<1024xf32> {
  %0 = rgraph.neg %x : tensor<1024xf32> -> tensor<1024xf32>
  %1 = rgraph.exp %0 : tensor<1024xf32> -> tensor<1024xf32>
  %2 = rgraph.neg %1 : tensor<1024xf32> -> tensor<1024xf32>
  func.return %2 : tensor<1024xf32>
}

// CHECK: rdu.tensor "x" {{.*}}offset = [[XOFF:[0-9]+]] : i64
// CHECK: rdu.tensor "t0_neg" {{.*}}offset = [[T0:[0-9]+]] : i64
// CHECK: rdu.tensor "t1_exp" {{.*}}offset = [[XOFF]] : i64
// CHECK: rdu.tensor "output0" {{.*}}offset = [[T0]] : i64
