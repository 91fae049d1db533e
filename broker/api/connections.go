package api

import "github.com/gin-gonic/gin"

func registerConnections(r gin.IRouter, d Deps) {}
