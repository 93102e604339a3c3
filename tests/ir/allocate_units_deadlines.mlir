// RUN: rducc opt %s -p 'rdu-target{chip=small},rdu-fuse,rdu-lower,rdu-plan-memory,rdu-allocate-units' | filecheck %s
// RUN: rducc opt %s -p 'rdu-target{chip=small},rdu-fuse,rdu-lower,rdu-plan-memory,rdu-allocate-units{deadlines=false}' | filecheck %s --check-prefix=WHOLE
// AGCUs by deadline (passes/allocate_units.py, `deadline_units`). The sum over a whole row is a
// pipeline break: %w4's linear reads nothing before it, and %w4's buffer holds a small part of it,
// so %w4 streams alone after w1-w3 are in, at its own AGCUs' rate. One AGCU (64 bytes per cycle)
// cannot keep the small chip's HBM (100 bytes per cycle) busy, so the chip's one spare AGCU goes
// to %w4. Sized for the whole kernel (`deadlines=false`), it went to the first load, %w1, whose
// phase already has three loads sharing HBM.

func.func @forward(%x: tensor<1x1024xf32>, %w1: tensor<1024x1024xf32>, %w2: tensor<1024x1024xf32>, %w3: tensor<1024x1024xf32>, %b1: tensor<1x1024xf32>, %b2: tensor<1x1024xf32>, %b3: tensor<1x1024xf32>, %b4: tensor<1x1024xf32>, %b5: tensor<1x1024xf32>, %w4: tensor<1024x1024xf32>) -> tensor<1x1024xf32> {
  %y1 = rgraph.linear %x, %w1 : (tensor<1x1024xf32>, tensor<1024x1024xf32>) -> tensor<1x1024xf32>
  %y2 = rgraph.linear %x, %w2 : (tensor<1x1024xf32>, tensor<1024x1024xf32>) -> tensor<1x1024xf32>
  %y3 = rgraph.linear %x, %w3 : (tensor<1x1024xf32>, tensor<1024x1024xf32>) -> tensor<1x1024xf32>
  %e1 = rgraph.add %y1, %y2 : (tensor<1x1024xf32>, tensor<1x1024xf32>) -> tensor<1x1024xf32>
  %e2 = rgraph.add %e1, %y3 : (tensor<1x1024xf32>, tensor<1x1024xf32>) -> tensor<1x1024xf32>
  %c1 = rgraph.add %e2, %b1 : (tensor<1x1024xf32>, tensor<1x1024xf32>) -> tensor<1x1024xf32>
  %c2 = rgraph.add %c1, %b2 : (tensor<1x1024xf32>, tensor<1x1024xf32>) -> tensor<1x1024xf32>
  %c3 = rgraph.add %c2, %b3 : (tensor<1x1024xf32>, tensor<1x1024xf32>) -> tensor<1x1024xf32>
  %c4 = rgraph.add %c3, %b4 : (tensor<1x1024xf32>, tensor<1x1024xf32>) -> tensor<1x1024xf32>
  %c5 = rgraph.add %c4, %b5 : (tensor<1x1024xf32>, tensor<1x1024xf32>) -> tensor<1x1024xf32>
  %s = rgraph.sum %c5 {dims = array<i64: 1>, keepdim = true} : tensor<1x1024xf32> -> tensor<1x1xf32>
  %z = rgraph.mul %c5, %s : (tensor<1x1024xf32>, tensor<1x1xf32>) -> tensor<1x1024xf32>
  %d = rgraph.linear %z, %w4 : (tensor<1x1024xf32>, tensor<1024x1024xf32>) -> tensor<1x1024xf32>
  func.return %d : tensor<1x1024xf32>
}

// CHECK: %[[W1:[0-9]+]] = rdu.tensor "w1"
// CHECK: %[[W4:[0-9]+]] = rdu.tensor "w4"
// CHECK: rdu.load %[[W1]] {units = 1 : i64
// CHECK: rdu.load %[[W4]] {units = 2 : i64
// WHOLE: %[[W1:[0-9]+]] = rdu.tensor "w1"
// WHOLE: %[[W4:[0-9]+]] = rdu.tensor "w4"
// WHOLE: rdu.load %[[W1]] {units = 2 : i64
// WHOLE: rdu.load %[[W4]] {units = 1 : i64
