package api

import "github.com/gin-gonic/gin"

func registerProviders(r gin.IRouter, d Deps) {}
