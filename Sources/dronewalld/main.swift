print("dronewalld: not yet")
