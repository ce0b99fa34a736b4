print("mmlab")
