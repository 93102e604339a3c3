// RUN: rducc opt %s -p 'rdu-target{chip=small},rdu-lower,rdu-plan-memory' | filecheck %s
// HBM (256 MiB on the small chip) cannot hold two 128 MiB weights and the activations: the
// activations spill to DDR first, and the weights stay in HBM.

func.func @forward(%x: tensor<4x8192xf32>) -> tensor<4x8192xf32> {
  %w1 = rgraph.weight "w1" : tensor<4096x8192xf32>
  %w2 = rgraph.weight "w2" : tensor<8192x4096xf32>
  %0 = rgraph.linear %x, %w1 : (tensor<4x8192xf32>, tensor<4096x8192xf32>) -> tensor<4x4096xf32>
  %1 = rgraph.linear %0, %w2 : (tensor<4x4096xf32>, tensor<8192x4096xf32>) -> tensor<4x8192xf32>
  func.return %1 : tensor<4x8192xf32>
}

// CHECK-DAG: rdu.tensor "x" {role = #rdu.role<input>, tier = #rdu.tier<ddr>
// CHECK-DAG: rdu.tensor "w1" {role = #rdu.role<weight>, tier = #rdu.tier<hbm>
// CHECK-DAG: rdu.tensor "w2" {role = #rdu.role<weight>, tier = #rdu.tier<hbm>
// CHECK-DAG: rdu.tensor "t0_linear" {role = #rdu.role<activation>, tier = #rdu.tier<ddr>
// CHECK-DAG: rdu.tensor "output0" {role = #rdu.role<output>, tier = #rdu.tier<ddr>
