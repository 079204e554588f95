print("dronewall")
